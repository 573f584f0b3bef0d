package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// checkAddrsFree tries each flag's address before the stack starts, so that
// every conflict is reported at once and names its flag (a stack that fails
// on the first bind says neither which flag nor what else is taken). An
// empty address is not served; a port 0 is always free.
func checkAddrsFree(flags [][2]string) error {
	var problems []string
	for _, f := range flags {
		name, addr := f[0], f[1]
		if addr == "" {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--%s %s: %v", name, addr, err))
			continue
		}
		l.Close()
	}
	if len(problems) > 0 {
		return errors.New("cannot listen: " + strings.Join(problems, "; ") +
			" (another `zeroflow dev` may be running; pick free addresses with these flags, or 127.0.0.1:0 for any)")
	}
	return nil
}

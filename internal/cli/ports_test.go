package cli

import (
	"net"
	"strings"
	"testing"
)

// Both taken addresses are named, each with its flag (issue 17).
func TestCheckAddrsFreeNamesEveryTakenFlag(t *testing.T) {
	var taken []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken = append(taken, l.Addr().String())
	}
	err := checkAddrsFree([][2]string{{"broker-addr", taken[0]}, {"metrics-addr", taken[1]}, {"other", "127.0.0.1:0"}, {"off", ""}})
	if err == nil {
		t.Fatal("no error for two taken addresses")
	}
	for _, want := range []string{"--broker-addr " + taken[0], "--metrics-addr " + taken[1], "127.0.0.1:0 for any"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "--other") || strings.Contains(err.Error(), "--off") {
		t.Errorf("free or unset addresses reported: %v", err)
	}
	if err := checkAddrsFree([][2]string{{"broker-addr", "127.0.0.1:0"}}); err != nil {
		t.Errorf("a free address: %v", err)
	}
}

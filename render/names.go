package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxName keeps rendered names valid as Kubernetes names and labels.
const maxName = 63

// childName joins parts into a DNS-1123 label. Characters a label cannot
// hold become '-'; a name that had to change or be cut gets a short hash
// of the original, so that distinct inputs keep distinct names.
func childName(parts ...string) string {
	raw := strings.Join(parts, "-")
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		default:
			return '-'
		}
	}, raw)
	clean = strings.Trim(clean, "-")
	if clean == raw && len(clean) <= maxName {
		return clean
	}
	sum := sha256.Sum256([]byte(raw))
	suffix := hex.EncodeToString(sum[:])[:8]
	if len(clean) > maxName-len(suffix)-1 {
		clean = strings.TrimRight(clean[:maxName-len(suffix)-1], "-")
	}
	return clean + "-" + suffix
}

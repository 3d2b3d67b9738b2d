package doctor

import (
	"fmt"
	"strings"
	"time"
)

// human renders a duration for a sentence: no zero units (1m, not 1m0s;
// 2h30m), days past two of them (7d, 7d12h), milliseconds to one decimal.
func human(d time.Duration) string {
	if d >= 48*time.Hour {
		days, rest := d/(24*time.Hour), (d % (24 * time.Hour)).Round(time.Hour)
		if rest == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, rest/time.Hour)
	}
	return setting(d)
}

// setting renders a duration as a value veltrix reads back (a Go
// duration) without zero units: 1m, 1h30m, 2.5ms, 0s.
func setting(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

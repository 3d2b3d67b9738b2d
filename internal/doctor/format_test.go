package doctor

import (
	"testing"
	"time"
)

func TestHumanDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		2500 * time.Microsecond:               "2.5ms",
		10 * time.Second:                      "10s",
		time.Minute:                           "1m",
		90 * time.Second:                      "1m30s",
		time.Hour:                             "1h",
		150 * time.Minute:                     "2h30m",
		168 * time.Hour:                       "7d",
		7*24*time.Hour + 12*time.Hour:         "7d12h",
		time.Hour + time.Minute + time.Second: "1h1m1s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
		if d < 48*time.Hour {
			if back, err := time.ParseDuration(setting(d)); err != nil || back != d {
				t.Errorf("setting(%v) = %q reads back as %v, %v", d, setting(d), back, err)
			}
		}
	}
}

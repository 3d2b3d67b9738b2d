package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
)

// text turns a raw value from any layer (YAML scalars and lists, env and
// flag strings) into the textual form the parsers read.
func text(raw any) string {
	switch v := raw.(type) {
	case string:
		return strings.TrimSpace(v)
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			parts = append(parts, text(p))
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(v, ",")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(raw)
}

// parse reads s as a value of the setting's kind and checks its range.
// On failure it returns the rule the value broke, in words.
func (s Setting) parse(v string) (any, error) {
	switch s.Kind {
	case String:
		return v, nil
	case Regexp:
		if _, err := regexp.Compile(v); err != nil {
			var re *syntax.Error
			if errors.As(err, &re) {
				return nil, fmt.Errorf("want a regular expression (RE2 syntax): %s in %q", re.Code, re.Expr)
			}
			return nil, fmt.Errorf("want a regular expression (RE2 syntax): %w", err)
		}
		return v, nil
	case Enum:
		if slices.Contains(s.Values, v) {
			return v, nil
		}
		return nil, fmt.Errorf("want one of %s", strings.Join(s.Values, ", "))
	case List:
		var out []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("want true or false")
		}
		return b, nil
	case Int:
		n, err := parseInt(v)
		if err != nil {
			return nil, fmt.Errorf("want a whole number%s", s.rangeText())
		}
		return n, s.checkRange(float64(n))
	case Float:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want a number%s", s.rangeText())
		}
		return f, s.checkRange(f)
	case Duration:
		d, err := ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("want a duration with a unit such as 250ms, 10s or 2m%s", s.rangeText())
		}
		return d, s.checkRange(float64(d))
	case Bytes:
		n, err := ParseBytes(v)
		if err != nil {
			return nil, fmt.Errorf("want a size such as 512B, 64KiB, 10MiB or 1GB%s", s.rangeText())
		}
		return n, s.checkRange(float64(n))
	}
	return nil, fmt.Errorf("unknown kind %d", s.Kind)
}

func parseInt(v string) (int, error) {
	n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err == nil {
		return int(n), nil
	}
	// YAML reads 1e6 as a float; accept it when it is whole.
	f, ferr := strconv.ParseFloat(v, 64)
	if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt64/2 {
		return 0, err
	}
	return int(f), nil
}

// checkRange compares a parsed number with the setting's bounds.
func (s Setting) checkRange(f float64) error {
	lo, hi := s.bounds()
	if (s.Min != "" && f < lo) || (s.Max != "" && f > hi) {
		return fmt.Errorf("want a value%s", s.rangeText())
	}
	return nil
}

// bounds returns Min and Max as numbers in the kind's base unit.
func (s Setting) bounds() (lo, hi float64) {
	conv := func(t string) float64 {
		if t == "" {
			return 0
		}
		switch s.Kind {
		case Duration:
			d, _ := ParseDuration(t)
			return float64(d)
		case Bytes:
			n, _ := ParseBytes(t)
			return float64(n)
		}
		f, _ := strconv.ParseFloat(t, 64)
		return f
	}
	return conv(s.Min), conv(s.Max)
}

// rangeText describes the bounds, e.g. " from 1 to 10000".
func (s Setting) rangeText() string {
	switch {
	case s.Min != "" && s.Max != "":
		return fmt.Sprintf(" from %s to %s", s.Min, s.Max)
	case s.Min != "":
		return fmt.Sprintf(" of at least %s", s.Min)
	case s.Max != "":
		return fmt.Sprintf(" of at most %s", s.Max)
	}
	return ""
}

// ParseDuration reads a Go duration. A bare number is refused, except 0,
// because "500" could mean milliseconds or seconds.
func ParseDuration(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	return time.ParseDuration(v)
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseBytes reads a size: a whole number of bytes with an optional unit,
// binary (KiB, MiB, GiB, TiB) or decimal (KB, MB, GB, TB).
func ParseBytes(v string) (int64, error) {
	num, mult := v, int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(v, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing size %q", v)
	}
	n := f * float64(mult)
	if n != math.Trunc(n) || math.Abs(n) > math.MaxInt64/2 {
		return 0, fmt.Errorf("parsing size %q: not a whole number of bytes", v)
	}
	return int64(n), nil
}

// FormatBytes renders n with the largest binary unit that divides it.
func FormatBytes(n int64) string {
	for i := 3; i >= 0; i-- {
		u := byteUnits[i]
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

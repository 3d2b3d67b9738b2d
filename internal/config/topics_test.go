package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestInputTopicKeysExclusive: exactly one of topic.name, topic.names and
// topic.pattern selects the inputs; setting two is a problem naming both
// keys and where each was set. topic.name's default yields to the others.
func TestInputTopicKeysExclusive(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env, flags []string
		want       []string // substrings of the error; none: it loads
	}{
		{name: "names alone", env: []string{"VELTRIX_TOPIC_NAMES=orders,payments"}},
		{name: "pattern alone", file: "topic:\n  pattern: 'orders-.*'\n"},
		{name: "name and names", file: "topic:\n  name: events\n", flags: []string{"--topic.names", "a,b"},
			want: []string{"topic.names", "set exactly one of topic.name, topic.names and topic.pattern", "topic.name (from file ", "topic.names (from flag --topic.names)"}},
		{name: "names and pattern", env: []string{"VELTRIX_TOPIC_NAMES=a,b", "VELTRIX_TOPIC_PATTERN=a.*"},
			want: []string{"topic.pattern", "topic.names (from env VELTRIX_TOPIC_NAMES)", "topic.pattern (from env VELTRIX_TOPIC_PATTERN)"}},
		{name: "name by flag and pattern", flags: []string{"--topic", "events", "--topic.pattern", "e.*"},
			want: []string{"topic.name (from flag --topic)", "topic.pattern (from flag --topic.pattern)"}},
		{name: "empty name", flags: []string{"--topic", ""}, want: []string{"topic.name", "want an input topic"}},
		{name: "a name twice", flags: []string{"--topic.names", "a,b,a"}, want: []string{"topic.names", `"a" is named twice`}},
		{name: "bad pattern", flags: []string{"--topic.pattern", "orders-(["}, want: []string{"topic.pattern", "want a regular expression"}},
		{name: "forward into an input", flags: []string{"--topic.names", "a,b", "--handler.name", "forward", "--output-topic", "b"},
			want: []string{"handler.output_topic", "must differ from topic.names (b)"}},
		{name: "per-source output into an input", flags: []string{"--topic.names", "a,a.out", "--handler.name", "forward", "--output-topic", "{topic}.out"}},
		{name: "dead letters of one input into another", flags: []string{"--topic.names", "a,a.dlq", "--processor.on_failure", "dlq"},
			want: []string{"topic.names", `"a.dlq" is the dead-letter topic of "a"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Environ: append([]string{}, tc.env...)}
			if tc.file != "" {
				opts.File = writeFile(t, tc.file)
			}
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			AddFlags(fs, []string{"topic.", "handler.", "processor."})
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			opts.Flags = fs
			l, err := Load(opts)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				if !l.Config.Topic.Several() {
					t.Fatalf("topic.names or topic.pattern not in the config: %+v", l.Config.Topic)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

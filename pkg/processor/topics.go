package processor

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics selects several input topics for one processor: a list of names,
// or a pattern matched against the cluster's topics as they appear. Set
// exactly one of Names and Pattern; New's topic argument must then be "".
// The group's members share every topic's partitions; each partition has
// its own lane, as with one topic.
type Topics struct {
	// Names are the topics consumed.
	Names []string
	// Pattern is a regular expression (RE2) that must match a whole topic
	// name: it is anchored. Topics created later are picked up when the
	// client next refreshes its metadata (Refresh). Internal topics are
	// never matched.
	Pattern string
	// Exclude are topics, as regular expressions matching a whole name,
	// that Pattern must not pick up even when it matches them: the outputs
	// of a pipeline that writes next to its inputs. The engine adds its own
	// dead-letter topics.
	Exclude []string
	// Refresh is how often the client reloads metadata, and so how soon a
	// new topic matching Pattern is consumed; 0 keeps franz-go's default
	// (5 minutes).
	Refresh time.Duration
}

// set reports whether t selects anything.
func (t Topics) set() bool { return len(t.Names) > 0 || t.Pattern != "" }

// validate reports what is wrong with t for input topic topic.
func (t Topics) validate(topic string, cfg Config) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if topic != "" {
		bad("topic %q and Options.Topics are both set: want one", topic)
	}
	if len(t.Names) > 0 && t.Pattern != "" {
		bad("Options.Topics: Names and Pattern are both set: want one")
	}
	for i, n := range t.Names {
		if n == "" {
			bad("Options.Topics.Names[%d] is empty", i)
		}
		if slices.Contains(t.Names[:i], n) {
			bad("Options.Topics.Names: %q is named twice", n)
		}
		if cfg.OnFailure == OnFailureDLQ && slices.Contains(t.Names, DLQTopic(cfg, n)) {
			bad("Options.Topics.Names: %q is the dead-letter topic of %q", DLQTopic(cfg, n), n)
		}
	}
	if t.Pattern != "" {
		if _, err := regexp.Compile(anchored(t.Pattern)); err != nil {
			bad("Options.Topics.Pattern %q: %w", t.Pattern, err)
		}
	}
	for _, e := range t.Exclude {
		if _, err := regexp.Compile(anchored(e)); err != nil {
			bad("Options.Topics.Exclude %q: %w", e, err)
		}
	}
	if t.Refresh < 0 {
		bad("Options.Topics.Refresh %s: want 0 or more", t.Refresh)
	}
	return errors.Join(errs...)
}

// anchored makes re match whole names only, as the Pattern and Exclude docs
// promise; franz-go matches anywhere in the name.
func anchored(re string) string { return "^(?:" + re + ")$" }

// DLQPattern is the regular expression of every dead-letter topic a
// processor of pattern-selected topics may write under cfg: the one
// processor.dlq_topic, or any name ending in .dlq.
func DLQPattern(cfg Config) string {
	if cfg.DLQTopic != "" {
		return regexp.QuoteMeta(cfg.DLQTopic)
	}
	return `.*\.dlq`
}

// consumeOptions are the client options that select the processor's topics.
func (p *Processor) consumeOptions() []kgo.Opt {
	t := p.topics
	switch {
	case t.Pattern != "":
		exclude := []string{}
		for _, e := range append(slices.Clone(t.Exclude), DLQPattern(p.cfg)) {
			exclude = append(exclude, anchored(e))
		}
		opts := []kgo.Opt{kgo.ConsumeTopics(anchored(t.Pattern)), kgo.ConsumeRegex(), kgo.ConsumeExcludeTopics(exclude...)}
		if t.Refresh > 0 {
			opts = append(opts, kgo.MetadataMaxAge(t.Refresh), kgo.MetadataMinAge(min(t.Refresh, 5*time.Second)))
		}
		return opts
	case len(t.Names) > 0:
		return []kgo.Opt{kgo.ConsumeTopics(t.Names...)}
	}
	return []kgo.Opt{kgo.ConsumeTopics(p.topic)}
}

// describeTopics names what the processor consumes, for logs and errors:
// the topic, the names joined by commas, or the pattern.
func describeTopics(topic string, t Topics) string {
	switch {
	case t.Pattern != "":
		return "pattern " + t.Pattern
	case len(t.Names) > 0:
		return strings.Join(t.Names, ",")
	}
	return topic
}

// topicPart identifies a lane: one partition of one input topic.
type topicPart struct {
	topic string
	part  int32
}

// offsetsByTopic is a commit's offsets in the form the client takes.
func offsetsByTopic(offsets map[topicPart]kgo.EpochOffset) map[string]map[int32]kgo.EpochOffset {
	out := map[string]map[int32]kgo.EpochOffset{}
	for tp, eo := range offsets {
		if out[tp.topic] == nil {
			out[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		out[tp.topic][tp.part] = eo
	}
	return out
}

// partsByTopic groups lanes' partitions by topic, the form the client's
// pause and resume calls take.
func partsByTopic(tps []topicPart) map[string][]int32 {
	out := map[string][]int32{}
	for _, tp := range tps {
		out[tp.topic] = append(out[tp.topic], tp.part)
	}
	return out
}

// eachPart calls f for every partition of a rebalance callback's map.
func eachPart(parts map[string][]int32, f func(topicPart)) {
	for t, ps := range parts {
		for _, part := range ps {
			f(topicPart{t, part})
		}
	}
}

// countParts counts the partitions of a rebalance callback's map.
func countParts(parts map[string][]int32) int {
	n := 0
	for _, ps := range parts {
		n += len(ps)
	}
	return n
}

// topicInstruments hands out each input topic's instruments, created on
// first use (a pattern's topics are not known up front).
type topicInstruments struct {
	mu sync.Mutex
	by map[string]*instruments
}

// instrumentsFor returns topic's instruments.
func (p *Processor) instrumentsFor(topic string) *instruments {
	if !p.topics.set() {
		return p.m
	}
	p.tm.mu.Lock()
	defer p.tm.mu.Unlock()
	i, ok := p.tm.by[topic]
	if !ok {
		i = newInstruments(p.opts.Metrics, p.cfg.Group.ID, topic)
		if p.tm.by == nil {
			p.tm.by = map[string]*instruments{}
		}
		p.tm.by[topic] = i
	}
	return i
}

// key is the lane's entry in p.lanes.
func (l *lane) key() topicPart { return topicPart{l.topic, l.part} }

// label names the lane's partition in logs and health reasons: the
// partition number alone for a processor of one topic (as before several
// were possible), topic/partition for one of several.
func (l *lane) label() any {
	if !l.p.topics.set() {
		return l.part
	}
	return l.topic + "/" + partitionLabel(l.part)
}

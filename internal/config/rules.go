package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/pkg/handler"
)

// checkRules finds contradictions between settings that are each valid on
// their own. Each problem names the key whose value is the likely mistake.
func checkRules(l *Loaded) []Problem {
	v, src := l.Values, l.Sources
	var out []Problem
	bad := func(key, rule string) {
		out = append(out, Problem{Key: key, Value: text(v[key]), Source: src[key], Rule: rule})
	}
	str := func(k string) string { return v[k].(string) }
	dur := func(k string) time.Duration { return v[k].(time.Duration) }

	if v["producer.idempotent"].(bool) && str("producer.acks") != "all" {
		bad("producer.acks", "idempotent writes require acks=all; set producer.acks=all or producer.idempotent=false")
	}
	if dur("processor.group.heartbeat_interval") >= dur("processor.group.session_timeout") {
		bad("processor.group.heartbeat_interval", fmt.Sprintf("must be below processor.group.session_timeout (%s)", dur("processor.group.session_timeout")))
	}
	if dur("processor.retry.initial_backoff") > dur("processor.retry.max_backoff") {
		bad("processor.retry.initial_backoff", fmt.Sprintf("must not exceed processor.retry.max_backoff (%s)", dur("processor.retry.max_backoff")))
	}
	if str("handler.name") == "forward" && str("handler.output_topic") == "" {
		bad("handler.output_topic", "the forward handler needs an output topic")
	}
	if str("handler.name") == "simulate" && v["handler.simulate.forward"].(bool) && str("handler.output_topic") == "" {
		bad("handler.output_topic", "handler.simulate.forward needs an output topic")
	}
	out = append(out, topicRules(l)...)
	inputs := []string{str("topic.name")}
	if names := v["topic.names"].([]string); len(names) > 0 {
		inputs = names
	}
	if str("topic.pattern") != "" {
		inputs = nil // a pattern never consumes the output and dead-letter topics (Topics.Exclude)
	}
	inKey := "topic.name"
	if len(v["topic.names"].([]string)) > 0 {
		inKey = "topic.names"
	}
	for _, in := range inputs {
		if out := str("handler.output_topic"); out != "" && handler.OutputTopic(out, in) == in {
			bad("handler.output_topic", fmt.Sprintf("must differ from %s (%s), or forward would feed its own input", inKey, in))
		}
		if d := str("processor.dlq_topic"); d != "" && d == in {
			bad("processor.dlq_topic", "must differ from "+inKey)
		}
	}
	if d := str("processor.dlq_topic"); d != "" && d == str("handler.output_topic") {
		bad("processor.dlq_topic", "must differ from handler.output_topic, or dead letters would be mixed into the good output")
	}
	out = append(out, exactlyOnceRules(l)...)
	if v["processor.batch.max_bytes"].(int64) > v["processor.buffer.max_bytes"].(int64) {
		bad("processor.batch.max_bytes", fmt.Sprintf("must not exceed processor.buffer.max_bytes (%s): a full batch could never be buffered",
			FormatBytes(v["processor.buffer.max_bytes"].(int64))))
	}
	if f := str("metrics.web_config_file"); f != "" {
		if _, err := server.CheckWebConfig(f); err != nil {
			bad("metrics.web_config_file", "must be a valid Prometheus exporter-toolkit web config file "+
				"(tls_server_config with readable cert_file and key_file, basic_auth_users with bcrypt hashes): "+err.Error())
		}
	}
	return out
}

// topicRules checks the input topic selection: exactly one of topic.name,
// topic.names and topic.pattern. topic.name counts as set when a file, the
// environment or a flag set it; its default applies only when neither of
// the others is set.
func topicRules(l *Loaded) []Problem {
	v, src := l.Values, l.Sources
	var out []Problem
	bad := func(key, rule string) {
		out = append(out, Problem{Key: key, Value: text(v[key]), Source: src[key], Rule: rule})
	}
	names, pattern := v["topic.names"].([]string), v["topic.pattern"].(string)
	nameSet := src["topic.name"].Layer != "default"
	var set []string
	if nameSet {
		set = append(set, fmt.Sprintf("topic.name (from %s)", src["topic.name"]))
	}
	if len(names) > 0 {
		set = append(set, fmt.Sprintf("topic.names (from %s)", src["topic.names"]))
	}
	if pattern != "" {
		set = append(set, fmt.Sprintf("topic.pattern (from %s)", src["topic.pattern"]))
	}
	if len(set) > 1 {
		rule := "set exactly one of topic.name, topic.names and topic.pattern; set are " + strings.Join(set, ", ")
		switch {
		case pattern != "":
			bad("topic.pattern", rule)
		default:
			bad("topic.names", rule)
		}
	}
	if len(names) == 0 && pattern == "" && v["topic.name"].(string) == "" {
		bad("topic.name", "want an input topic (or set topic.names or topic.pattern)")
	}
	for i, n := range names {
		switch {
		case n == "":
			bad("topic.names", fmt.Sprintf("name %d is empty", i+1))
		case slices.Contains(names[:i], n):
			bad("topic.names", fmt.Sprintf("%q is named twice", n))
		}
	}
	if pattern != "" && (strings.Contains(v["processor.dlq_topic"].(string), "{topic}")) {
		bad("processor.dlq_topic", "{topic} is not replaced in the dead-letter topic; leave it empty for <topic>.dlq")
	}
	if v["processor.on_failure"] == "dlq" && len(names) > 0 && v["processor.dlq_topic"].(string) == "" {
		for _, n := range names {
			if slices.Contains(names, n+".dlq") {
				bad("topic.names", fmt.Sprintf("%q is the dead-letter topic of %q (processor.on_failure=dlq): dead letters would be consumed again", n+".dlq", n))
			}
		}
	}
	return out
}

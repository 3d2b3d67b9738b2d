package config

import (
	"fmt"
	"time"

	"github.com/veltrix/veltrix/internal/server"
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
	if out := str("handler.output_topic"); out != "" && out == str("topic.name") {
		bad("handler.output_topic", "must differ from topic.name, or forward would feed its own input")
	}
	if d := str("processor.dlq_topic"); d != "" && d == str("topic.name") {
		bad("processor.dlq_topic", "must differ from topic.name")
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

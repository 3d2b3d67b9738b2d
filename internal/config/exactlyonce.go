package config

import (
	"fmt"
	"time"
)

// exactlyOnceRules refuses processor.guarantee=exactly_once where it
// cannot hold: a handler with effects outside Kafka, which an aborted
// transaction cannot take back (log prints, noop and simulate without
// forward produce nothing to make atomic), producer settings a
// transactional producer cannot have, and commit or transaction settings
// that contradict it.
func exactlyOnceRules(l *Loaded) []Problem {
	v, src := l.Values, l.Sources
	if v["processor.guarantee"].(string) != "exactly_once" {
		return nil
	}
	var out []Problem
	bad := func(key, rule string) {
		out = append(out, Problem{Key: key, Value: text(v[key]), Source: src[key], Rule: rule})
	}
	switch name := v["handler.name"].(string); {
	case name == "log":
		bad("processor.guarantee", "exactly_once cannot take back the log handler's printed lines when a transaction aborts; use at_least_once, or a handler that only writes to Kafka (forward)")
	case name == "noop":
		bad("processor.guarantee", "exactly_once needs a handler that produces (forward, or simulate with handler.simulate.forward); noop writes nothing to make atomic: use at_least_once")
	case name == "simulate" && !v["handler.simulate.forward"].(bool):
		bad("processor.guarantee", "exactly_once needs a handler that produces: simulate writes nothing without handler.simulate.forward=true; use at_least_once or set it")
	}
	if v["producer.acks"].(string) != "all" {
		bad("producer.acks", "processor.guarantee=exactly_once writes transactionally, which requires acks=all")
	}
	if !v["producer.idempotent"].(bool) {
		bad("producer.idempotent", "processor.guarantee=exactly_once writes transactionally, which requires idempotent writes")
	}
	if v["processor.commit.mode"].(string) == "manual" {
		bad("processor.commit.mode", "processor.guarantee=exactly_once commits the offsets in its transactions; manual contradicts it (use interval)")
	}
	// Not built together yet: a transaction's barrier waits for each
	// partition lane's finished offset, which key and none ordering move by
	// their offset window; and the transactions are proven on one input
	// topic only.
	if o, _ := v["processor.ordering"].(string); o != "" && o != "partition" {
		bad("processor.ordering", "processor.guarantee=exactly_once works with processor.ordering=partition only (key and none ordering are not supported with it yet)")
	}
	for _, k := range []string{"topic.names", "topic.pattern"} {
		if text(v[k]) != "" {
			bad(k, "processor.guarantee=exactly_once works with one input topic (topic.name) only, not yet with several")
		}
	}
	if iv, to := v["processor.transaction.interval"].(time.Duration), v["processor.transaction.timeout"].(time.Duration); iv >= to {
		bad("processor.transaction.interval", fmt.Sprintf("must be below processor.transaction.timeout (%s)", to))
	}
	return out
}

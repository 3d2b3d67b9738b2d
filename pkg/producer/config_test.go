package producer_test

import (
	"strings"
	"testing"

	"github.com/veltrix/veltrix/pkg/producer"
)

// TestValidate: every problem at once, in Go's field names, including the
// contradiction franz-go would otherwise report at the first produce.
func TestValidate(t *testing.T) {
	if err := producer.DefaultConfig().Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	c := producer.DefaultConfig()
	c.Acks, c.Compression, c.MaxBufferedRecords = "leader", "brotli", 0
	err := c.Validate()
	for _, w := range []string{`Acks "leader": idempotent writes require all`, `Compression "brotli"`, "MaxBufferedRecords 0: want at least 1"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	c.Idempotent = false
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "Acks") {
		t.Errorf("acks=leader without idempotence: %v", err)
	}
}

package processor

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestRevokeAfterRejoinSaysDropped is the regression test for a member
// whose session the coordinator had ended and whose old partitions franz-go
// revoked only after it rejoined under a new member id (a heartbeat answered
// REBALANCE_IN_PROGRESS before the JoinGroup's UNKNOWN_MEMBER_ID). The
// commit is refused, rightly, but it was logged as a failed commit, at
// ERROR, and the zombie fault scenario, waiting for the member to say it
// dropped its old partitions, failed in CI. It must say they were dropped
// uncommitted, as the lost and rejoin paths do.
func TestRevokeAfterRejoinSaysDropped(t *testing.T) {
	var logs kafkatest.LogBuffer
	cfg := DefaultConfig()
	cfg.Group.ID = "g"
	p := newProcessor(kafkaConfigForTest(), "in", cfg, HandlerFunc(func(context.Context, *Batch) error { return nil }),
		Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	p.cl = cl
	old := "member-of-the-ended-session"
	p.member.Store(&old) // the client's member id is now "": a new session

	p.mu.Lock()
	l := p.startLane(topicPart{"in", 0})
	p.mu.Unlock()
	l.mu.Lock()
	l.finished, l.hasFinish = kgo.EpochOffset{Epoch: -1, Offset: 42}, true
	l.mu.Unlock()

	p.release([]*lane{l}, time.Second, true)

	out := logs.String()
	if strings.Contains(out, "level=ERROR") || !strings.Contains(out, "revoked partitions dropped uncommitted") {
		t.Fatalf("release after a rejoin logged:\n%s", out)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lanes) != 0 {
		t.Fatalf("%d lanes left after the release", len(p.lanes))
	}
}

package handler

import (
	"context"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Noop accepts every batch and does nothing: the engine's own cost, the
// benchmark baseline. The engine counts what it processed.
type Noop struct{}

var _ processor.Handler = Noop{}

// Handle returns nil.
func (Noop) Handle(context.Context, *processor.Batch) error { return nil }

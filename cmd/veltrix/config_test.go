package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigExplain(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("processor:\n  buffer:\n    max_bytes: 10MB\n  fetch:\n    max_bytes: 10MiB\n"), 0o600)

	r := veltrix(t, 30*time.Second, "", "config", "explain", "--config", file, "--handler.timeout", "5s", "processor.", "handler.timeout")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"processor.buffer.max_bytes", "10000000 B (9.54MiB)", "file " + file,
		"10485760 B (10MiB)", "flag --handler.timeout", "processor.batch.max_records",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "kafka.brokers") {
		t.Errorf("prefix filter ignored:\n%s", r.stdout)
	}

	r = veltrix(t, 30*time.Second, "", "config", "explain", "--json", "--changed")
	var out struct {
		Settings []map[string]any `json:"settings"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("exit %d, not JSON: %q %s", r.code, r.stdout, r.stderr)
	}
	if len(out.Settings) != 0 {
		t.Errorf("--changed with nothing changed listed %v", out.Settings)
	}

	cmd := []string{"config", "explain", "--json", "processor.batch.max_records"}
	r = veltrixEnv(t, []string{"VELTRIX_PROCESSOR_BATCH_MAX_RECORDS=42"}, cmd...)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Settings) != 1 {
		t.Fatalf("exit %d: %q %s", r.code, r.stdout, r.stderr)
	}
	if s := out.Settings[0]; s["value"] != "42" || s["source"] != "env" || s["from"] != "VELTRIX_PROCESSOR_BATCH_MAX_RECORDS" {
		t.Errorf("env entry = %v", s)
	}
}

// veltrixEnv runs the binary like veltrix, with extra environment variables.
func veltrixEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("veltrix %v did not finish: %s", args, r.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

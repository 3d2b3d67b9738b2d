package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebConfigFileValidatedAtLoad: metrics.web_config_file is read with
// the exporter toolkit's own validation at load, so a file the server
// could not serve from is a configuration problem (exit 2) naming the
// key, not a metrics endpoint that never answers.
func TestWebConfigFileValidatedAtLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, file string
		want       string // "" for valid
	}{
		{"missing file", filepath.Join(dir, "absent.yml"), "no such file"},
		{"unknown key", write("typo.yml", "tls_server_config:\n  cert_fil: x.pem\n"), "cert_fil"},
		{"plain-text password", write("plain.yml", "basic_auth_users:\n  prom: hunter2\n"), "bcrypt"},
		{"certificate file missing", write("nocert.yml", "tls_server_config:\n  cert_file: none.pem\n  key_file: none-key.pem\n"), "none.pem"},
		{"basic auth only", write("auth.yml", "basic_auth_users:\n  prom: $2y$10$MqT1Ka1sdMOsmt3.5X/XmeDYGr5aGHRtpA2r0ZS0WsKEBbLtMLrJ2\n"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Options{Environ: []string{"VELTRIX_METRICS_WEB_CONFIG_FILE=" + tc.file}})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid file refused: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, w := range []string{"metrics.web_config_file", tc.file, "env VELTRIX_METRICS_WEB_CONFIG_FILE", "exporter-toolkit web config", tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

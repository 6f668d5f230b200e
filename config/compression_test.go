package config_test

import (
	"path/filepath"
	"testing"

	"github.com/quaver-dev/quaver/config"
)

func TestCompression(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     []string
		want    config.Compression
		wantErr string
	}{
		{name: "on by default", want: config.Compression{Deflate: true, Threshold: 512}},
		{name: "file", yaml: "compression:\n  deflate: false\n  threshold: 2048\n", want: config.Compression{Threshold: 2048}},
		{name: "environment over file", yaml: "compression:\n  deflate: false\n",
			env: []string{"QUAVER_COMPRESSION_DEFLATE=true", "QUAVER_COMPRESSION_THRESHOLD=0"}, want: config.Compression{Deflate: true}},
		{name: "negative threshold", env: []string{"QUAVER_COMPRESSION_THRESHOLD=-1"}, wantErr: "compression.threshold: -1 must not be negative"},
		{name: "bad boolean", env: []string{"QUAVER_COMPRESSION_DEFLATE=maybe"}, wantErr: "QUAVER_COMPRESSION_DEFLATE"},
		{name: "unknown key", yaml: "compression:\n  level: 9\n", wantErr: "level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := loadChecked(t, tt.yaml, tt.env, tt.wantErr)
			if !ok {
				return
			}
			if cfg.Compression != tt.want {
				t.Fatalf("compression %+v, want %+v", cfg.Compression, tt.want)
			}
		})
	}
	t.Run("example", func(t *testing.T) {
		cfg, err := config.Load(config.Sources{File: filepath.Join("..", "testdata", "quaver.example.yaml")})
		if err != nil {
			t.Fatal(err)
		}
		if want := (config.Compression{Deflate: true, Threshold: 512}); cfg.Compression != want {
			t.Fatalf("the example configures %+v, want %+v", cfg.Compression, want)
		}
	})
}

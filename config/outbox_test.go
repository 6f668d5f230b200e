package config_test

import (
	"testing"

	"github.com/quaver-dev/quaver/config"
)

func TestOutboxAndMetricsAddress(t *testing.T) {
	tests := []struct {
		name        string
		yaml        string
		env         []string
		want        config.Outbox
		wantMetrics string
		wantErr     string
	}{
		{name: "defaults", want: config.Outbox{SoftLimit: 64 << 10, HardLimit: 1 << 20}},
		{name: "file", yaml: "outbox:\n  soft_limit: 1000\n  hard_limit: 5000\nmetrics_addr: 10.0.0.1:9100\n",
			want: config.Outbox{SoftLimit: 1000, HardLimit: 5000}, wantMetrics: "10.0.0.1:9100"},
		{name: "environment over file", yaml: "outbox:\n  soft_limit: 1000\n",
			env:  []string{"QUAVER_OUTBOX_SOFT_LIMIT=2000", "QUAVER_OUTBOX_HARD_LIMIT=3000", "QUAVER_METRICS_ADDR=127.0.0.1:9100"},
			want: config.Outbox{SoftLimit: 2000, HardLimit: 3000}, wantMetrics: "127.0.0.1:9100"},
		{name: "soft above hard", env: []string{"QUAVER_OUTBOX_SOFT_LIMIT=2000000"}, wantErr: "outbox: soft_limit (2000000) and hard_limit (1048576)"},
		{name: "zero", yaml: "outbox:\n  hard_limit: 0\n", wantErr: "outbox:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := loadChecked(t, tt.yaml, tt.env, tt.wantErr)
			if !ok {
				return
			}
			if cfg.Outbox != tt.want || cfg.MetricsAddr != tt.wantMetrics {
				t.Fatalf("outbox %+v, metrics %q; want %+v, %q", cfg.Outbox, cfg.MetricsAddr, tt.want, tt.wantMetrics)
			}
		})
	}
}

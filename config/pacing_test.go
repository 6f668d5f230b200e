package config_test

import (
	"path/filepath"
	"testing"

	"github.com/quaver-dev/quaver/config"
)

// pace_tokens and pace_chars are read from a channel rule, default to 0
// (off), and are refused when negative or on a rule without tokens.
func TestChannelRulePacing(t *testing.T) {
	const app = "apps:\n  - id: a\n    key: k\n    secret: s\n    channels:\n"
	tests := []struct {
		name       string
		rule       string
		wantTokens int
		wantChars  int
		wantErr    string
	}{
		{name: "off by default", rule: "      - prefix: private-ai-\n        tokens: true\n"},
		{name: "tokens per second", rule: "      - prefix: private-ai-\n        tokens: true\n        pace_tokens: 40\n", wantTokens: 40},
		{name: "both", rule: "      - prefix: private-ai-\n        tokens: true\n        pace_tokens: 40\n        pace_chars: 300\n", wantTokens: 40, wantChars: 300},
		{name: "negative tokens", rule: "      - prefix: private-ai-\n        tokens: true\n        pace_tokens: -1\n",
			wantErr: "apps[0].channels[0].prefix: pace_tokens and pace_chars must not be negative"},
		{name: "negative chars", rule: "      - prefix: private-ai-\n        tokens: true\n        pace_chars: -5\n",
			wantErr: "pace_tokens and pace_chars must not be negative"},
		{name: "without tokens", rule: "      - prefix: private-ai-\n        pace_chars: 300\n",
			wantErr: "apps[0].channels[0].prefix: pace_tokens and pace_chars need tokens: true"},
		{name: "misspelt", rule: "      - prefix: private-ai-\n        tokens: true\n        pace_token: 40\n", wantErr: "pace_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := loadChecked(t, app+tt.rule, nil, tt.wantErr)
			if !ok {
				return
			}
			r := cfg.Apps[0].Channels[0]
			if r.PaceTokens != tt.wantTokens || r.PaceChars != tt.wantChars {
				t.Fatalf("pace_tokens %d, pace_chars %d; want %d, %d", r.PaceTokens, r.PaceChars, tt.wantTokens, tt.wantChars)
			}
		})
	}
}

// The example configuration documents pacing on its AI channel rule.
func TestExampleConfigPacing(t *testing.T) {
	cfg, err := config.Load(config.Sources{File: filepath.Join("..", "testdata", "quaver.example.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if rules := cfg.Apps[0].Channels; len(rules) != 1 || !rules[0].Tokens || rules[0].PaceTokens != 30 || rules[0].PaceChars != 0 {
		t.Fatalf("example channel rules %+v, want private-ai- with tokens and pace_tokens 30", rules)
	}
}

package protocol_test

import (
	"encoding/json"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

func TestMemberFramesGolden(t *testing.T) {
	tests := []struct {
		name  string
		frame *protocol.Frame
		want  string // the frame's data as pusher-js parses it
	}{
		{"member_added", protocol.MemberAdded("presence-room", "u2", `{"name":"Bob"}`), `{"user_id":"u2","user_info":{"name":"Bob"}}`},
		{"member_added_without_info", protocol.MemberAdded("presence-room", "u2", ""), `{"user_id":"u2","user_info":null}`},
		{"member_added_quoted_id", protocol.MemberAdded("presence-room", `a"b\c`, `[1]`), `{"user_id":"a\"b\\c","user_info":[1]}`},
		{"member_removed", protocol.MemberRemoved("presence-room", "u2"), `{"user_id":"u2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.frame.Kind != protocol.DataString {
				t.Fatalf("member frames carry string data: %s", tt.frame.JSON)
			}
			if tt.frame.Data != tt.want || !json.Valid([]byte(tt.frame.Data)) {
				t.Fatalf("data %s, want %s", tt.frame.Data, tt.want)
			}
			golden(t, tt.name, append(tt.frame.JSON, '\n'))
		})
	}
}

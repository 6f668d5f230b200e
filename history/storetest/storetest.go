// Package storetest is the contract every history.Store must keep, run by
// each implementation's tests.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/history"
	"github.com/quaver-dev/quaver/protocol"
)

// Run checks a store; newStore returns an empty one for each case.
func Run(t *testing.T, newStore func(t *testing.T) history.Store) {
	cases := map[string]func(*testing.T, history.Store){
		"TokensAccumulate":        testTokensAccumulate,
		"RepeatsIgnored":          testRepeatsIgnored,
		"ResumeAfterSeq":          testResumeAfterSeq,
		"StreamsInOrderBounded":   testStreamsBounded,
		"RecentEvents":            testRecent,
		"ChannelsAndAppsSeparate": testSeparate,
		"Expiry":                  testExpiry,
		"BatchInOrder":            testBatch,
		"FirstTokenMarked":        testFirst,
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) { f(t, newStore(t)) })
	}
}

var tokens = &apps.ChannelRule{Prefix: "private-ai-", Tokens: true, Retain: time.Minute}

func token(channel, stream string, seq int64, delta string, done bool) *protocol.Frame {
	data := protocol.TokenData(stream, seq, delta, false, done)
	f := protocol.NewFrame("token", channel, data, protocol.DataString, "")
	f.Token, _ = protocol.ParseToken(data)
	return f
}

func record(t *testing.T, s history.Store, app string, rule *apps.ChannelRule, f *protocol.Frame) {
	t.Helper()
	if err := s.Record(context.Background(), history.Entry{App: app, Rule: rule, Frame: f}); err != nil {
		t.Fatal(err)
	}
}

func streams(t *testing.T, s history.Store, app, channel string) []history.Stream {
	t.Helper()
	st, err := s.Streams(context.Background(), app, channel)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testTokensAccumulate(t *testing.T, s history.Store) {
	const ch = "private-ai-1"
	for i, d := range []string{"Hel", "lo, ", "wörld"} {
		record(t, s, "app", tokens, token(ch, `"s1"`, int64(i), d, false))
	}
	record(t, s, "app", tokens, token(ch, `"s1"`, 3, "", true))
	got := streams(t, s, "app", ch)
	if len(got) != 1 {
		t.Fatalf("%d streams, want 1", len(got))
	}
	st := got[0]
	if st.ID != `"s1"` || st.Event != "token" || st.Text != "Hello, wörld" || st.Seq != 3 || !st.Done {
		t.Fatalf("stream %+v", st)
	}
	f := st.Snapshot(ch, nil)
	if f.Data != `{"stream":"s1","seq":3,"text":"Hello, wörld","done":true}` || f.Token.Seq != 3 || f.Event != "token" {
		t.Fatalf("snapshot %s (token %+v)", f.Data, f.Token)
	}
	// A plain event on the channel does not disturb the stream.
	record(t, s, "app", tokens, protocol.NewFrame("status", ch, "thinking", protocol.DataString, ""))
	if got := streams(t, s, "app", ch); len(got) != 1 || got[0].Text != "Hello, wörld" {
		t.Fatalf("after a plain event: %+v", got)
	}
}

func testRepeatsIgnored(t *testing.T, s history.Store) {
	const ch = "private-ai-2"
	for _, tok := range []struct {
		seq   int64
		delta string
	}{{0, "a"}, {1, "b"}, {1, "b"}, {0, "a"}, {2, "c"}} {
		record(t, s, "app", tokens, token(ch, `"s"`, tok.seq, tok.delta, false))
	}
	if st := streams(t, s, "app", ch); len(st) != 1 || st[0].Text != "abc" || st[0].Seq != 2 {
		t.Fatalf("stream %+v, want abc at seq 2 (repeats ignored)", st)
	}
}

func testResumeAfterSeq(t *testing.T, s history.Store) {
	const ch = "private-ai-3"
	for i, d := range []string{"one ", "two ", "three"} {
		record(t, s, "app", tokens, token(ch, `"s"`, int64(i+10), d, false))
	}
	st := streams(t, s, "app", ch)[0]
	for _, tc := range []struct {
		after int64
		want  string
		ok    bool
	}{{10, "two three", true}, {11, "three", true}, {12, "", true}, {-1, "one two three", true}, {5, "", false}, {99, "", false}} {
		got, ok := st.After(tc.after)
		if got != tc.want || ok != tc.ok {
			t.Errorf("After(%d) = %q, %v; want %q, %v", tc.after, got, ok, tc.want, tc.ok)
		}
	}
	resume := &protocol.Resume{Stream: []byte(`"s"`), Seq: 10}
	if f := st.Snapshot(ch, resume); f.Data != `{"stream":"s","seq":12,"delta":"two three"}` {
		t.Fatalf("resumed snapshot %s", f.Data)
	}
	other := &protocol.Resume{Stream: []byte(`"other"`), Seq: 10}
	if f := st.Snapshot(ch, other); !strings.Contains(f.Data, `"text":"one two three"`) {
		t.Fatalf("resume of another stream: %s", f.Data)
	}
}

func testStreamsBounded(t *testing.T, s history.Store) {
	const ch = "private-ai-4"
	for i := range history.MaxStreams + 3 {
		record(t, s, "app", tokens, token(ch, fmt.Sprintf(`"s%02d"`, i), 0, fmt.Sprint(i), false))
	}
	got := streams(t, s, "app", ch)
	if len(got) != history.MaxStreams {
		t.Fatalf("%d streams kept, want %d", len(got), history.MaxStreams)
	}
	if got[0].ID != `"s03"` || got[len(got)-1].ID != fmt.Sprintf(`"s%02d"`, history.MaxStreams+2) {
		t.Fatalf("kept %s..%s, want the newest, oldest first", got[0].ID, got[len(got)-1].ID)
	}
}

func testRecent(t *testing.T, s history.Store) {
	rule := &apps.ChannelRule{Prefix: "chat-", History: 3, Retain: time.Minute}
	for i := range 5 {
		record(t, s, "app", rule, protocol.NewFrame("message", "chat-room", fmt.Sprint(i), protocol.DataString, ""))
	}
	got, err := s.Recent(context.Background(), "app", "chat-room", 10)
	if err != nil {
		t.Fatal(err)
	}
	var datas []string
	for _, f := range got {
		datas = append(datas, f.Data)
	}
	if fmt.Sprint(datas) != "[2 3 4]" {
		t.Fatalf("recent %v, want the last 3 in order", datas)
	}
	if got, _ := s.Recent(context.Background(), "app", "chat-room", 2); len(got) != 2 || got[1].Data != "4" {
		t.Fatalf("recent(2) %v", got)
	}
}

func testSeparate(t *testing.T, s history.Store) {
	record(t, s, "a1", tokens, token("private-ai-x", `"s"`, 0, "app one", false))
	record(t, s, "a2", tokens, token("private-ai-x", `"s"`, 0, "app two", false))
	record(t, s, "a1", tokens, token("private-ai-y", `"s"`, 0, "other channel", false))
	if st := streams(t, s, "a1", "private-ai-x"); len(st) != 1 || st[0].Text != "app one" {
		t.Fatalf("a1: %+v", st)
	}
	if st := streams(t, s, "a2", "private-ai-x"); len(st) != 1 || st[0].Text != "app two" {
		t.Fatalf("a2: %+v", st)
	}
}

func testExpiry(t *testing.T, s history.Store) {
	rule := &apps.ChannelRule{Prefix: "private-ai-", Tokens: true, History: 5, Retain: 300 * time.Millisecond}
	record(t, s, "app", rule, token("private-ai-z", `"s"`, 0, "soon gone", true))
	if len(streams(t, s, "app", "private-ai-z")) != 1 {
		t.Fatal("stream not kept")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(streams(t, s, "app", "private-ai-z")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("stream still kept 5 s after a 300 ms retention")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, _ := s.Recent(context.Background(), "app", "private-ai-z", 5); len(got) != 0 {
		t.Fatalf("history kept after retention: %d events", len(got))
	}
}

// testBatch records several channels' tokens and events in one call, as
// a stream reader does with what one read returned.
func testBatch(t *testing.T, s history.Store) {
	rule := &apps.ChannelRule{Prefix: "private-ai-", Tokens: true, History: 10, Retain: time.Minute}
	var batch []history.Entry
	add := func(ch string, f *protocol.Frame) {
		batch = append(batch, history.Entry{App: "app", Rule: rule, Frame: f})
	}
	for i, d := range []string{"a", "b", "c"} {
		add("private-ai-1", token("private-ai-1", `"x"`, int64(i), d, false))
		add("private-ai-2", token("private-ai-2", `"y"`, int64(i), strings.ToUpper(d), false))
	}
	add("private-ai-1", token("private-ai-1", `"x"`, 1, "b", false)) // a repeat
	add("private-ai-1", protocol.NewFrame("status", "private-ai-1", "done", protocol.DataString, ""))
	if err := s.Record(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	for i, e := range batch {
		if opener := i < 2; e.Frame.Token != nil && e.Frame.Token.First != opener {
			t.Fatalf("entry %d (%s): First %v", i, e.Frame.Data, e.Frame.Token.First)
		}
	}
	if got := streams(t, s, "app", "private-ai-1"); len(got) != 1 || got[0].Text != "abc" || got[0].Seq != 2 {
		t.Fatalf("channel 1 streams %+v", got)
	}
	if got := streams(t, s, "app", "private-ai-2"); len(got) != 1 || got[0].Text != "ABC" {
		t.Fatalf("channel 2 streams %+v", got)
	}
	recent, err := s.Recent(context.Background(), "app", "private-ai-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, f := range recent {
		events = append(events, f.Event+":"+f.Data)
	}
	want := []string{
		`token:{"stream":"x","seq":0,"delta":"a"}`, `token:{"stream":"x","seq":1,"delta":"b"}`, `token:{"stream":"x","seq":2,"delta":"c"}`,
		`token:{"stream":"x","seq":1,"delta":"b"}`, "status:done",
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("channel 1 recent events\n%q\nwant (in publish order, the repeat too)\n%q", events, want)
	}
}

// testFirst checks that the token opening a stream, and only it, is marked.
func testFirst(t *testing.T, s history.Store) {
	const ch = "private-ai-first"
	var frames []*protocol.Frame
	for i := range 3 {
		f := token(ch, `"s"`, int64(i), "x", false)
		frames = append(frames, f)
		record(t, s, "app", tokens, f)
	}
	again := token(ch, `"s"`, 0, "x", false) // a producer's repeat of the first
	record(t, s, "app", tokens, again)
	other := token(ch, `"t"`, 5, "x", false) // a stream may start at any seq
	record(t, s, "app", tokens, other)
	if !frames[0].Token.First || frames[1].Token.First || frames[2].Token.First || again.Token.First || !other.Token.First {
		t.Fatalf("First marks %v %v %v, repeat %v, other stream %v; want only the openers",
			frames[0].Token.First, frames[1].Token.First, frames[2].Token.First, again.Token.First, other.Token.First)
	}
}

package protocol

// Token is the AI token-stream convention carried in an event's data:
// {"stream": id, "seq": n, "delta": "text"} and a final {"done": true}.
// The server parses it only on channels configured for token streams.
type Token struct {
	Stream string
	Seq    int64
	Delta  string
	Done   bool
}

package connection

import "sync/atomic"

// Transports whose counts ConnectionsByTransport always reports, so that
// operators see every transport, zero or not.
var knownTransports = []string{"ws", NameXHRStreaming, NameXHRPolling}

func (h *Hub) transportCount(name string) *atomic.Int64 {
	if v, ok := h.byTransport.Load(name); ok {
		return v.(*atomic.Int64)
	}
	v, _ := h.byTransport.LoadOrStore(name, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// ConnectionsByTransport returns this node's open connections, all apps
// together, by transport name ("ws", "xhr_streaming", "xhr_polling").
func (h *Hub) ConnectionsByTransport() map[string]int {
	out := make(map[string]int, len(knownTransports))
	for _, name := range knownTransports {
		out[name] = 0
	}
	h.byTransport.Range(func(k, v any) bool {
		out[k.(string)] = int(v.(*atomic.Int64).Load())
		return true
	})
	return out
}

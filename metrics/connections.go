package metrics

// ConnectionOpened counts a new connection of an app over a transport.
func (m *Metrics) ConnectionOpened(app, transport string) {
	if m != nil {
		m.connections.WithLabelValues(app, transport).Inc()
		m.connectionsTotal.WithLabelValues(app, transport).Inc()
	}
}

// ConnectionClosed counts a connection's end.
func (m *Metrics) ConnectionClosed(app, transport string) {
	if m != nil {
		m.connections.WithLabelValues(app, transport).Dec()
	}
}

// SlowConsumerClosed counts a connection closed for falling behind.
func (m *Metrics) SlowConsumerClosed(app string) {
	if m != nil {
		m.slowConsumerCloses.WithLabelValues(app).Inc()
	}
}

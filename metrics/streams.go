package metrics

// IngestPublished counts ingest stream entries published to channels.
func (m *Metrics) IngestPublished(app string, n int) {
	if m != nil {
		m.ingestPublished.WithLabelValues(app).Add(float64(n))
	}
}

// IngestMalformed counts an ingest stream entry skipped for breaking the rules.
func (m *Metrics) IngestMalformed(app string) {
	if m != nil {
		m.ingestMalformed.WithLabelValues(app).Inc()
	}
}

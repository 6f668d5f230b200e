package metrics

// IngestPublished counts an ingest stream entry published to channels.
func (m *Metrics) IngestPublished(app string) {
	if m != nil {
		m.ingestPublished.WithLabelValues(app).Inc()
	}
}

// IngestMalformed counts an ingest stream entry skipped for breaking the rules.
func (m *Metrics) IngestMalformed(app string) {
	if m != nil {
		m.ingestMalformed.WithLabelValues(app).Inc()
	}
}

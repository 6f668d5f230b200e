package streams

// Key names, under the deployment's prefix. The ingest lease and checkpoint
// share the stream key's hash tag with each other so one script can check
// the lease and move the checkpoint on Redis Cluster.

// IngestKey is an app's default ingest stream.
func IngestKey(prefix, app string) string { return prefix + ":ingest:" + app }

// InboundKey is the stream an app's inbound client events are appended to.
func InboundKey(prefix, app string) string { return prefix + ":inbound:" + app }

// SignalsKey is the stream an app's signals (vacated) are appended to.
func SignalsKey(prefix, app string) string { return prefix + ":signals:" + app }

func leaseKey(prefix, stream string) string { return prefix + ":ingest-state:{" + stream + "}:lease" }

func checkpointKey(prefix, stream string) string {
	return prefix + ":ingest-state:{" + stream + "}:checkpoint"
}

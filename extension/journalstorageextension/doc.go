// Package journalstorageextension is a storage extension
// (xextension/storage) for the exporters' persistent sending queue. Each
// client is a journal: one append-only file to which every batch of writes
// is appended as one checksummed frame, with an index in memory. The queue
// writes each request once, reads it once and deletes it, and rewrites its
// small metadata record at each of those steps; in a B+tree file
// (file_storage's bbolt) each metadata update also rewrites the requests
// stored in the same page, which a journal never does.
package journalstorageextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension"

//go:generate make -C ../.. generate

package blobstore

// SetPageSize makes s's Orphans list n keys at a time.
func SetPageSize(s *Store, n int) { s.pageSize = n }

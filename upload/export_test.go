package upload

// SetBase64Block makes the base64 text decode n bytes at a time until the
// returned function restores it.
func SetBase64Block(n int) (restore func()) {
	old := base64Block
	base64Block = n
	return func() { base64Block = old }
}

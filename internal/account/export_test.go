package account

// Waiting reports how many callers wait for the call in flight for items,
// so a test can act once they have all joined it.
func (c *Coalescer) Waiting(items []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.inFlight[setKey(items)]; b != nil {
		return b.waiters
	}
	return 0
}

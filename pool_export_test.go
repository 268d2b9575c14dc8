package procshare

// PoolPids returns the pids of p's current workers, by slot (0 for a slot
// whose worker is being replaced).
func PoolPids[In, Out any](p *Pool[In, Out]) []int { return p.p.pids() }

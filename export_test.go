package procshare

// SetPdeathsig turns Linux's parent-death signal for daemon children off or
// on, so that tests exercise the portable pipe watch alone.
func SetPdeathsig(on bool) { usePdeathsig = on }

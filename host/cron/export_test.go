package cron

// RunningJobs returns the number of jobs with a run going on.
func (s *Scheduler) RunningJobs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

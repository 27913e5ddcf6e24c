package limits

import "time"

// The arithmetic of the three counter kinds, in integer milliseconds. The
// Redis scripts (scripts/*.lua) are line-for-line the same rules: a test runs
// every behaviour against both.

// GCRA (the generic cell rate algorithm) for Requests and Tokens.
//
// Why GCRA rather than a sliding window of two fixed windows: it keeps one
// small state per limit, its answers are exact (no assumption that the
// previous window's traffic was uniform), retry-after is computed rather than
// guessed, capacity comes back continuously as OpenAI's own limits do (so
// x-ratelimit-reset-* means "back to full"), and a settle that corrects an
// estimate is a plain move of the state in either direction.
//
// The state is a debt in "ms·units": a unit taken costs window-ms, and the
// debt decays by max per ms, so max units per window flow at a steady rate
// and the capacity (the burst) is max units. Keeping the debt relative to
// the last update keeps every number an exact integer below 2^53 (Validate
// bounds max × window-ms), which Lua's float64 numbers represent exactly.
type rateState struct {
	at   int64 // ms of the last update
	debt int64 // ms·units still to drain
}

// decay drains the debt up to now.
func (s *rateState) decay(now, maxPerWindow int64) {
	if now > s.at {
		if el := now - s.at; maxPerWindow == 0 || el >= ceilDiv(s.debt, maxPerWindow) {
			if maxPerWindow > 0 {
				s.debt = 0
			}
		} else {
			s.debt -= el * maxPerWindow
		}
	}
	s.at = max(s.at, now)
}

// rateCheck evaluates taking c units; the new debt is returned for apply.
func rateCheck(s rateState, now, maxPerWindow, windowMs, c int64) (verdict, int64) {
	s.decay(now, maxPerWindow)
	capacity := maxPerWindow * windowMs
	if c > maxPerWindow {
		return verdict{tooLarge: true, remaining: remainingRate(s.debt, capacity, windowMs), reset: resetRate(s.debt, maxPerWindow)}, s.debt
	}
	nd := s.debt + c*windowMs
	if nd <= capacity {
		return verdict{allowed: true, remaining: remainingRate(nd, capacity, windowMs), reset: resetRate(nd, maxPerWindow)}, nd
	}
	return verdict{remaining: remainingRate(s.debt, capacity, windowMs), reset: resetRate(s.debt, maxPerWindow),
		retry: ceilDiv(nd-capacity, maxPerWindow)}, s.debt
}

// rateAdjust moves the debt by delta units (settle: actual-estimate; refund:
// -estimate), never below zero and never past 2^53.
func rateAdjust(s *rateState, now, maxPerWindow, windowMs, delta int64) {
	s.decay(now, maxPerWindow)
	switch {
	case delta >= 0 && delta > (maxScaled-s.debt)/windowMs:
		s.debt = maxScaled
	default:
		s.debt = max(s.debt+delta*windowMs, 0)
	}
}

func remainingRate(debt, capacity, windowMs int64) int64 {
	return max(capacity-debt, 0) / windowMs
}

func resetRate(debt, maxPerWindow int64) int64 {
	if maxPerWindow == 0 {
		return 0
	}
	return ceilDiv(debt, maxPerWindow)
}

// budgetCheck evaluates taking c from a budget with used settled and held
// reserved, in a period ending endMs.
//
// Admission is strict: used + held + c <= max, so the admitted estimates never
// exceed the budget; usage passes it only by what calls use beyond their
// estimates. When the budget is spent, retry-after is the end of the period;
// when only in-flight holds block, they may settle below their estimates at
// any moment, so the hint is a second.
func budgetCheck(used, held, now, endMs, maxAmount, c int64) verdict {
	reset := endMs - now
	free := maxAmount - used - held
	switch {
	case c > maxAmount:
		return verdict{tooLarge: true, remaining: free, reset: reset}
	case c <= free:
		return verdict{allowed: true, remaining: free - c, reset: reset}
	case c > maxAmount-used:
		return verdict{remaining: free, reset: reset, retry: reset}
	}
	return verdict{remaining: free, reset: reset, retry: min(1000, reset)}
}

// concCheck evaluates taking one slot when n leases are live; first is the
// earliest lease expiry (0 if none).
func concCheck(n, first, now, maxSlots int64) verdict {
	if n < maxSlots {
		return verdict{allowed: true, remaining: maxSlots - n - 1}
	}
	retry := int64(1000)
	if first > 0 {
		retry = min(retry, max(first-now, 1))
	}
	return verdict{remaining: 0, retry: retry}
}

// periodOf returns the period index of the instant nowMs (UTC) and the end
// of that period in ms. Months are indexed year*12+month-1.
func periodOf(p Period, nowMs int64) (idx, endMs int64) {
	switch p {
	case Hour:
		idx = floorDiv(nowMs, 3_600_000)
		return idx, (idx + 1) * 3_600_000
	case Day:
		idx = floorDiv(nowMs, 86_400_000)
		return idx, (idx + 1) * 86_400_000
	}
	t := time.UnixMilli(nowMs).UTC()
	y, m, _ := t.Date()
	end := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	return int64(y)*12 + int64(m) - 1, end.UnixMilli()
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

package store

import "fmt"

// The catalog lifecycle only moves forward, with one exception:
//
//	draft -> published -> deprecated -> retired
//	             ^-------------'
//
// A deprecated version may be published again: deprecation only announces an end, so
// taking it back breaks nobody. Nothing leaves retired (callers were cut off; bring an
// API back as a new version) and nothing goes back to draft (a published contract is
// immutable). A draft may be deleted instead of retired.
var lifecycleMoves = map[Lifecycle][]Lifecycle{
	Draft:      {Published},
	Published:  {Deprecated},
	Deprecated: {Published, Retired},
	Retired:    nil,
}

// CanTransition reports whether a catalog entry may move from one state to another.
func CanTransition(from, to Lifecycle) bool {
	for _, s := range lifecycleMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CheckTransition returns nil or an error for moving the kind object id from -> to:
// ErrInvalid for an unknown state, ErrConflict for a move that is not allowed.
func CheckTransition(kind, id string, from, to Lifecycle) error {
	if _, ok := lifecycleMoves[to]; !ok {
		return invalid("lifecycle", "want draft, published, deprecated or retired, got %q", to)
	}
	if !CanTransition(from, to) {
		return fmt.Errorf("store: %s %q: cannot go from %s to %s: %w", kind, id, from, to, ErrConflict)
	}
	return nil
}

// The approval flow of a subscription:
//
//	pending -> approved -> revoked
//	pending -> rejected
//	pending -> revoked   (the application withdraws its request)
//
// Rejected and revoked are final: to try again, delete the subscription and subscribe
// anew, which starts a fresh approval with its own history.
var subscriptionMoves = map[SubscriptionState][]SubscriptionState{
	SubPending:  {SubApproved, SubRejected, SubRevoked},
	SubApproved: {SubRevoked},
	SubRejected: nil,
	SubRevoked:  nil,
}

// CanTransitionSubscription reports whether a subscription may move from one state to
// another.
func CanTransitionSubscription(from, to SubscriptionState) bool {
	for _, s := range subscriptionMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CheckSubscriptionTransition is CheckTransition for subscriptions.
func CheckSubscriptionTransition(id string, from, to SubscriptionState) error {
	if _, ok := subscriptionMoves[to]; !ok {
		return invalid("state", "want pending, approved, rejected or revoked, got %q", to)
	}
	if !CanTransitionSubscription(from, to) {
		return fmt.Errorf("store: subscription %q: cannot go from %s to %s: %w", id, from, to, ErrConflict)
	}
	return nil
}

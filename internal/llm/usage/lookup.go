package usage

import "strings"

// Lookup finds the price of model as served by provider (the provider type or
// the first part of a table key: "openai", "anthropic", "gemini", "bedrock";
// may be empty). It is case-insensitive and tolerant of the ways one model is
// spelled on the wire, trying in order:
//
//  1. the name as given, then without a Bedrock cross-region prefix
//     ("us.", "eu.", "apac.", "global.", ...), an ARN's path, or Gemini's
//     "models/" prefix;
//  2. without one trailing version suffix at a time: a date ("-2024-08-06",
//     "-20250929", "@20250929"), a short version ("-001", "-2411", "-0125"),
//     "-latest", "-preview"/"-exp" with any date after them, or a Bedrock
//     version (":0", "-v1:0");
//  3. for Bedrock's "anthropic.claude-..." ids, the Anthropic model name,
//     because Bedrock bills Claude at Anthropic's list prices.
//
// Each name is tried as provider/name, as a bare key, as a provider/model
// written in the model ("openai/gpt-4o"), and as the model part of any key.
// The first hit wins, so an exact key such as "gpt-4o-2024-05-13" beats the
// stripped "gpt-4o". Stripping never removes a word of the name itself
// ("mini", "pro"), so an unknown model stays unknown instead of borrowing a
// sibling's price.
func (t *Table) Lookup(provider, model string) (*Price, bool) {
	prov := strings.ToLower(strings.TrimSpace(provider))
	name := strings.ToLower(strings.TrimSpace(model))
	if name == "" {
		return nil, false
	}
	if p := t.find(prov, name); p != nil {
		return p, true
	}
	base := stripPrefixes(name)
	if base != name {
		if p := t.find(prov, base); p != nil {
			return p, true
		}
	}
	for {
		s, ok := stripSuffix(base)
		if !ok {
			break
		}
		base = s
		if p := t.find(prov, base); p != nil {
			return p, true
		}
	}
	if claude, ok := strings.CutPrefix(base, "anthropic."); ok {
		if p := t.find("anthropic", claude); p != nil {
			return p, true
		}
	}
	return nil, false
}

func (t *Table) find(prov, name string) *Price {
	if prov != "" {
		if p := t.byProvider[prov][name]; p != nil {
			return p
		}
	}
	if p := t.byProvider[""][name]; p != nil {
		return p
	}
	if pp, m, ok := strings.Cut(name, "/"); ok {
		if p := t.byProvider[pp][m]; p != nil {
			return p
		}
	}
	return t.byModel[name]
}

// bedrockRegions are the geography prefixes of Bedrock cross-region inference
// profiles ("us.anthropic.claude-sonnet-4-5-20250929-v1:0").
var bedrockRegions = []string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."}

func stripPrefixes(name string) string {
	if strings.HasPrefix(name, "arn:") {
		// arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-...
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
	}
	name = strings.TrimPrefix(name, "models/")
	for _, r := range bedrockRegions {
		// Only a prefix followed by vendor.model is a region: "us." alone
		// could begin some other provider's name.
		if rest, ok := strings.CutPrefix(name, r); ok && strings.Contains(rest, ".") {
			return rest
		}
	}
	return name
}

// stripSuffix removes one trailing version suffix from name.
func stripSuffix(name string) (string, bool) {
	// Vertex AI: claude-sonnet-4-5@20250929.
	if i := strings.LastIndexByte(name, '@'); i > 0 {
		return name[:i], true
	}
	// Bedrock: anthropic.claude-...-v1:0, amazon.nova-pro-v1:0.
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		head := name[:i]
		if j := strings.LastIndexByte(head, '-'); j > 0 && len(head) > j+2 && head[j+1] == 'v' && allDigits(head[j+2:]) {
			head = head[:j]
		}
		return head, true
	}
	// -preview or -exp, maybe followed by a date in any layout:
	// gemini-2.5-flash-preview-09-2025, gemini-2.5-flash-lite-preview-06-17.
	for h := name; ; {
		head, seg, ok := cutLastSegment(h)
		if !ok {
			break
		}
		if seg == "preview" || seg == "exp" {
			return head, true
		}
		if !allDigits(seg) {
			break
		}
		h = head
	}
	head, last, ok := cutLastSegment(name)
	if !ok {
		return name, false
	}
	if last == "latest" {
		return head, true
	}
	// OpenAI: gpt-4o-2024-08-06.
	if h2, month, ok := cutLastSegment(head); ok && len(last) == 2 && len(month) == 2 && allDigits(last) && allDigits(month) {
		if h3, year, ok := cutLastSegment(h2); ok && len(year) == 4 && allDigits(year) {
			return h3, true
		}
	}
	// Anthropic 20250929, Gemini 001, Mistral 2411, OpenAI 0125.
	if allDigits(last) && (len(last) == 8 || len(last) == 3 || len(last) == 4) {
		return head, true
	}
	return name, false
}

// cutLastSegment splits name at its last '-'; ok is false when there is none
// or it is the first byte.
func cutLastSegment(name string) (head, seg string, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return name, "", false
	}
	return name[:i], name[i+1:], true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

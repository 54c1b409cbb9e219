package monitoring

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// PromQL words that are not metric names: keywords, and the names of
// aggregations and functions, which metricNames tells apart anyway by the
// parenthesis that follows them.
var promqlKeywords = []string{
	"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
	"and", "or", "unless", "inf", "nan",
}

var (
	quoted    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	braces    = regexp.MustCompile(`\{[^}]*\}`)
	brackets  = regexp.MustCompile(`\[[^\]]*\]`)
	grouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	variables = regexp.MustCompile(`\$\{?\w+\}?`)
	ident     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
)

// metricNames returns the metric names a PromQL expression selects, in
// order of appearance: identifiers that are not inside strings, label
// matchers, ranges or grouping clauses, are not followed by "(" (functions
// and aggregations), and are not keywords or numbers.
func metricNames(expr string) []string {
	s := quoted.ReplaceAllString(expr, `""`)
	s = braces.ReplaceAllString(s, "{}")
	s = brackets.ReplaceAllString(s, "[]")
	s = grouping.ReplaceAllString(s, " ")
	s = variables.ReplaceAllString(s, " ")
	var names []string
	for _, m := range ident.FindAllStringSubmatchIndex(s, -1) {
		if m[2] >= 0 { // followed by "(": a function or aggregation
			continue
		}
		if m[0] > 0 && strings.ContainsRune("0123456789.", rune(s[m[0]-1])) {
			continue // the exponent or unit of a number, like 1e3 or 5m
		}
		word := s[m[0]:m[1]]
		if slices.Contains(promqlKeywords, strings.ToLower(word)) || slices.Contains(names, word) {
			continue
		}
		names = append(names, word)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`posagent_link_up == 0`, []string{"posagent_link_up"}},
		{`sum by (call, outcome) (rate(posagent_alipay_calls_total{job="x"}[$__rate_interval]))`, []string{"posagent_alipay_calls_total"}},
		{`(posagent_alipay_reachable == 0 and on(job, instance) posagent_alipay_calls_total) * on(job, instance) group_left(store, lane) posagent_info{store=~"$store", lane=~"a b"}`,
			[]string{"posagent_alipay_reachable", "posagent_alipay_calls_total", "posagent_info"}},
		{`histogram_quantile(0.95, sum by (le) (rate(posagent_alipay_call_duration_seconds_bucket[5m])))`, []string{"posagent_alipay_call_duration_seconds_bucket"}},
		{`time() - posagent_reconcile_period_end_timestamp_seconds > 2 * 86400`, []string{"posagent_reconcile_period_end_timestamp_seconds"}},
		{`count(x{a="or (y)"} offset 1h) or vector(0)`, []string{"x"}},
		{`1e3 * foo`, []string{"foo"}},
		{`topk by (job, instance) (1, last_over_time(posagent_info[1d]))`, []string{"posagent_info"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// dashboardExprs returns the PromQL expressions of the dashboard's panels
// and template variables.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("posagent-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("posagent-dashboard.json: %v", err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has a query without an expression", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if v.Type != "query" || !ok {
			continue
		}
		m := labelValues.FindStringSubmatch(q["query"].(string))
		if m == nil {
			t.Fatalf("template variable query %q is not label_values(SELECTOR, LABEL)", q["query"])
		}
		exprs = append(exprs, m[1])
	}
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	return exprs
}

// ruleExprs returns the expressions of the alerting rules, read without a
// YAML parser: each is the block scalar after "expr: |".
func ruleExprs(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exprs := map[string]string{}
	var alert string
	var block []string
	inExpr, indent := false, 0
	sc := bufio.NewScanner(f)
	flush := func() {
		if inExpr {
			exprs[alert] = strings.Join(block, "\n")
		}
		inExpr, block = false, nil
	}
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		lead := len(line) - len(strings.TrimLeft(line, " "))
		if inExpr && (trimmed == "" || lead > indent) {
			block = append(block, trimmed)
			continue
		}
		flush()
		switch {
		case strings.HasPrefix(trimmed, "- alert: "):
			alert = strings.TrimPrefix(trimmed, "- alert: ")
		case trimmed == "expr: |":
			inExpr, indent = true, lead
		case strings.HasPrefix(trimmed, "expr:"):
			t.Fatalf("%s: the expr of %s is not a block scalar (expr: |)", path, alert)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(exprs) == 0 {
		t.Fatalf("%s: no alerting rules found", path)
	}
	return exprs
}

func TestEveryAlertHasAnExpression(t *testing.T) {
	exprs := ruleExprs(t, "posagent-alerts.yml")
	for _, name := range []string{
		"PosagentDown", "PosagentRegisterLinkDown", "PosagentOperatorProblem", "PosagentAlipayUnreachable",
		"PosagentPaymentOverdue", "PosagentFollowUpWaiting", "PosagentResultUnconfirmed", "PosagentStoreErrors",
		"PosagentStoreSalvaged", "PosagentClockOffset", "PosagentRestarting", "PosagentReconcileDiscrepancies",
		"PosagentReconcileStale",
	} {
		if strings.TrimSpace(exprs[name]) == "" {
			t.Errorf("no expression for alert %s", name)
		}
	}
}

// TestDashboardFollowsStoreAndLane checks that every panel's query is
// narrowed by the Store and Lane variables, so that choosing a store shows
// only its terminals.
func TestDashboardFollowsStoreAndLane(t *testing.T) {
	for _, expr := range dashboardExprs(t) {
		if !strings.Contains(expr, "(") {
			continue // a template variable's selector
		}
		if !strings.Contains(expr, `store=~"$store"`) || !strings.Contains(expr, `lane=~"$lane"`) {
			t.Errorf("query not narrowed by $store and $lane: %s", expr)
		}
	}
}

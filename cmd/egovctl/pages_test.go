package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"egov"
)

// The citizen's pages in a real browser: headless Chromium (Debian's
// chromium) driven by chromedp, against `egovctl up` and `egovctl signer`
// as a citizen's NCALayer. Each step leaves a screenshot in
// .screenshots/<test>/ at the repository's root (EGOV_SCREENSHOTS: another
// folder).

// pageCitizen is a demo citizen as the browser tests use him.
type pageCitizen struct {
	iin, surname, given, patronymic string
}

var (
	aidos   = pageCitizen{"791028302728", "ЖАҚСЫЛЫҚОВ", "АЙДОС", "СЕРІКҰЛЫ"}
	aigerim = pageCitizen{"050815600217", "НҰРЛАНОВА", "АЙГЕРІМ", "ЕРЛАНҚЫЗЫ"}
)

// texts the pages show, per language, that the tests look for.
var pageWords = map[string]map[string]string{
	"ru": {"completed": "Исполнена", "valid": "Подпись верна", "registered": "Учётная запись создана"},
	"kk": {"completed": "Орындалды", "valid": "Қолтаңба дұрыс", "registered": "Тіркелгі жасалды"},
}

func TestCitizenJourneyInTheBrowser(t *testing.T) {
	st := startPagesStack(t)
	for _, tc := range []struct {
		lang    string
		citizen pageCitizen
	}{{"ru", aidos}, {"kk", aigerim}} {
		t.Run(tc.lang, func(t *testing.T) {
			// His own NCALayer, with his keys.
			st.signWith(t, st.key(tc.citizen.iin, "sign"), st.key(tc.citizen.iin, "auth"))
			b := st.browser(t)
			b.journey(tc.lang, tc.citizen)
		})
	}
	t.Run("axe-sees", func(t *testing.T) {
		// The checker itself: a page with an unlabelled field, an image
		// without text and grey on grey is reported.
		b := st.browser(t)
		b.run(chromedp.Navigate(`data:text/html,<html lang="en"><title>x</title><main><img src="x.png"><input id="a"><p style="color:%23bbb;background:%23ccc">faint</p></main></html>`))
		found := map[string]bool{}
		for _, v := range b.axeViolations() {
			found[v.ID] = true
		}
		for _, id := range []string{"image-alt", "label", "color-contrast"} {
			if !found[id] {
				t.Errorf("axe did not report %s: %v", id, found)
			}
		}
	})
	t.Run("refusals", func(t *testing.T) {
		b := st.browser(t)
		c := aidos
		b.loginByPassword("kk", c)
		// Signed with somebody else's key: the portal's refusal, in Kazakh.
		st.signWith(t, st.key(aigerim.iin, "sign"))
		b.navigate("/services/job-seeker-registration")
		b.fillS1(c, "refusal-01")
		b.expectRefusal("refusal-02-wrong-iin", egov.CodeIINMismatch, "kk")
		// An expired certificate of his own, after switching to Russian.
		expired := filepath.Join(t.TempDir(), "expired")
		mustRun(t, "pki", "issue", "--dir", filepath.Join(st.data, "pki"), "--iin", c.iin, "--name", c.surname+" "+c.given+" "+c.patronymic,
			"--not-before", "2024-01-01", "--not-after", "2025-01-01", "--out", expired)
		st.signWith(t, expired+".p12")
		b.navigate("/services/job-seeker-registration?lang=ru")
		b.fillS1(c, "refusal-03")
		b.expectRefusal("refusal-04-expired", egov.CodeCertificateExpired, "ru")
		// The form's own checks: nothing chosen, a message beside each field.
		b.navigate("/services/job-seeker-registration")
		b.run(chromedp.Click(chromedp.CSS("#sign-submit")), chromedp.WaitVisible(chromedp.CSS("#surname-error")))
		surnameErr := b.text("#surname-error")
		if surnameErr != "Заполните это поле" {
			t.Errorf("the surname left empty: %q", surnameErr)
		}
		b.shot("refusal-05-form-checked")
		st.signWith(t, st.key(aidos.iin, "sign"), st.key(aidos.iin, "auth"))
	})
	t.Run("workstation", func(t *testing.T) {
		// The State Corporation's operator on the same machinery: G-A, S7
		// in Karaganda, for an applicant through his daughter; she signs
		// with her organisation key through her own NCALayer.
		st.signWith(t, filepath.Join(st.data, "pki", "keys", "counter-operator-krg.p12"))
		b := st.browser(t)
		b.open(st.counter, "/login?lang=ru")
		b.shot("login")
		b.axe()
		b.run(chromedp.SendKeys(chromedp.CSS("#login"), "krg-op-01"), chromedp.SendKeys(chromedp.CSS("#password"), "Operator-KRG-01"),
			chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/intake/tsa-membership-certificate"]`)))
		b.shot("services")
		b.axe()
		intake := func(power, shot string) {
			b.run(chromedp.Click(chromedp.CSS(`a[href="/intake/tsa-membership-certificate"]`)), chromedp.WaitVisible(chromedp.CSS("#intake-form")),
				chromedp.SendKeys(chromedp.CSS("#applicant"), "900101300811"),
				chromedp.SendKeys(chromedp.CSS(`[id="representative.iin"]`), "791028302728"),
				chromedp.SendKeys(chromedp.CSS(`[id="representative.surname"]`), "ОМАРОВА"),
				chromedp.SendKeys(chromedp.CSS(`[id="representative.givenName"]`), "АЙГҮЛ"),
				chromedp.SendKeys(chromedp.CSS(`[id="representative.powerOfAttorney"]`), power))
			b.shot(shot)
			b.run(chromedp.Click(chromedp.CSS("#intake-submit")))
		}
		// A power of attorney ЕНИС does not know: refused, and said so.
		intake("ENIS-2026-KRG-7777777", "intake-unknown-power")
		b.run(chromedp.WaitVisible(chromedp.CSS("#register-refusal")))
		if got := value(b, chromedp.AttributeValue(chromedp.CSS("#page-error"), "data-code")).Value; got != string(egov.CodeDataUnobtainable) {
			t.Errorf("an unknown power of attorney: %q", got)
		}
		b.shot("intake-refused")
		b.axe()
		b.open(st.counter, "/")
		intake("ENIS-2026-KRG-0001873", "intake")
		b.run(chromedp.WaitVisible(chromedp.CSS("#draft-sign")))
		if name := b.text("#draft-applicant"); name == "" {
			t.Error("the draft names no applicant")
		}
		b.shot("draft")
		b.axe()
		b.run(chromedp.Click(chromedp.CSS("#draft-sign")), chromedp.WaitVisible(chromedp.CSS("#receipt")))
		if due := b.text("#receipt-due"); !regexp.MustCompile(`\d\d\.\d\d\.\d{4} \d\d:\d\d`).MatchString(due) {
			t.Errorf("the receipt's due date: %q", due)
		}
		b.shot("receipt")
		b.axe()
		b.run(chromedp.WaitVisible(chromedp.CSS(`#status [data-final="true"]`)))
		if state := b.text("#state-text"); state != "Результат готов к выдаче" {
			t.Fatalf("the filing: %q", state)
		}
		b.shot("ready")
		b.run(chromedp.SendKeys(chromedp.CSS("#hand-out-iin"), "791028302728"), chromedp.Click(chromedp.CSS(`#hand-out-form button`)),
			chromedp.WaitVisible(chromedp.CSS("#handed-out")))
		if got := b.text("#handed-out"); !strings.Contains(got, "представителю") {
			t.Errorf("handed out: %q", got)
		}
		b.shot("handed-out")
		b.axe()
	})
	t.Run("cabinet-pages", func(t *testing.T) {
		b := st.browser(t)
		b.loginByPassword("en", aidos)
		b.navigate("/cabinet")
		seen := map[string]bool{}
		for page := 1; ; page++ {
			ids := value(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('table.inbox tbody tr')).map(r => r.dataset.id)`))
			if len(ids) == 0 || len(ids) > 3 {
				t.Fatalf("page %d lists %d messages, want 1 to 3", page, len(ids))
			}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("message %s on two pages", id)
				}
				seen[id] = true
			}
			b.shot(fmt.Sprintf("cabinet-%02d", page))
			b.axe()
			if !value(b, chromedp.Evaluate[bool](`document.getElementById('next-page') !== null`)) {
				break
			}
			b.run(chromedp.Click(chromedp.CSS("#next-page")), chromedp.WaitVisible(chromedp.CSS("#first-page")))
		}
		if len(seen) < 4 {
			t.Fatalf("%d messages in all: the journey leaves more than a page of 3", len(seen))
		}
		b.navigate("/cabinet?unread=1")
		unread := b.text("#unread-count strong")
		rows := value(b, chromedp.Evaluate[int](`document.querySelectorAll('table.inbox tbody tr').length`))
		if rows == 0 || rows > 3 {
			t.Errorf("the unread tab lists %d (unread %s)", rows, unread)
		}
		b.shot("cabinet-unread")
	})
}

// pagesStack is egovctl up with its pages, and egovctl signer as the
// citizen's NCALayer on the address the pages know.
type pagesStack struct {
	portal, data, signerAddr string
	counter                  string
	chromium                 string
	shots                    string

	mu         sync.Mutex
	stopSigner func()
}

func startPagesStack(t *testing.T) *pagesStack {
	t.Helper()
	chromium := findChromium(t)
	st := &pagesStack{signerAddr: freeAddr(t), counter: freeAddr(t), chromium: chromium}
	st.portal, st.data = startUp(t, "--signer-url", "wss://"+st.signerAddr, "--cabinet-page-size", "3", "--counter-listen", st.counter)
	st.shots = os.Getenv("EGOV_SCREENSHOTS")
	if st.shots == "" {
		st.shots = filepath.Join("..", "..", ".screenshots")
	}
	st.shots = filepath.Join(st.shots, t.Name())
	_ = os.RemoveAll(st.shots)
	if err := os.MkdirAll(st.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(st.shots)
	t.Logf("screenshots: %s", abs)
	return st
}

func (st *pagesStack) key(iin, kind string) string {
	return filepath.Join(st.data, "citizens", iin+"-"+kind+".p12")
}

// signWith (re)starts the signer with these key stores: the citizen's
// NCALayer with other keys in it.
func (st *pagesStack) signWith(t *testing.T, keys ...string) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopSigner != nil {
		st.stopSigner()
	}
	args := []string{"signer", "--listen", st.signerAddr, "--origin", "http://" + st.portal, "--origin", "http://" + st.counter}
	for _, k := range keys {
		args = append(args, "--key", k)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, out, out) }()
	var once sync.Once
	st.stopSigner = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("signer exited %d:\n%s", code, out.String())
			}
		})
	}
	t.Cleanup(st.stopSigner)
	for i := 0; i < 300 && !strings.Contains(out.String(), "listening"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "listening") {
		t.Fatalf("the signer did not start:\n%s", out.String())
	}
}

// findChromium is Debian's chromium; without it the test skips, except in
// CI (CI=1), where .ci/run installs it and its absence is a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run installs Debian's chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// browserTab is one browser of its own (a new profile) on the stack.
type browserTab struct {
	t    *testing.T
	st   *pagesStack
	ctx  context.Context
	step int
}

func (st *pagesStack) browser(t *testing.T) *browserTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(st.chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		// The signer's certificate is its own, made at its start: the
		// citizen accepts it once in his browser, the test tells Chromium.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The browser starts with the tab's own context, not with a step's,
	// whose end would end it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return &browserTab{t: t, st: st, ctx: ctx}
}

func (b *browserTab) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(err)
	}
}

// stepTimeout bounds one step: a page that never shows what the test
// waits for fails the test with a screenshot of what it shows instead.
const stepTimeout = 30 * time.Second

func (b *browserTab) fail(err error) {
	b.t.Helper()
	url, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.shot("failed")
	b.t.Fatalf("at %s: %v", url, err)
}

// value runs one action of the page that answers a value.
func value[T any](b *browserTab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(err)
	}
	return v
}

func (b *browserTab) text(sel string) string {
	b.t.Helper()
	return value(b, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browserTab) navigate(path string) {
	b.t.Helper()
	b.open(b.st.portal, path)
}

// open opens path on the site at addr (the portal's, the counter's).
func (b *browserTab) open(addr, path string) {
	b.t.Helper()
	b.run(chromedp.Navigate("http://"+addr+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// shot writes a screenshot of the whole page, numbered in the test's order.
func (b *browserTab) shot(name string) {
	b.t.Helper()
	b.step++
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join(b.st.shots, strings.ReplaceAll(b.t.Name(), "/", "_"))
	_ = os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.png", b.step, name)), png, 0o644); err != nil {
		b.t.Error(err)
	}
}

// axeViolation is one rule axe-core found broken, with where.
type axeViolation = struct {
	ID, Impact, Help string
	Nodes            []struct{ Target []string }
}

// axeViolations runs axe-core (the version cmd/egovctl/testdata/axe pins)
// in the page.
func (b *browserTab) axeViolations() []axeViolation {
	b.t.Helper()
	b.run(chromedp.Evaluate[chromedp.Void](axeSource(b.t)))
	return value(b, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
}

// axe fails the test on a serious or critical violation of the page.
func (b *browserTab) axe() {
	b.t.Helper()
	url := value(b, chromedp.Location())
	for _, v := range b.axeViolations() {
		targets := []string{}
		for _, n := range v.Nodes {
			targets = append(targets, strings.Join(n.Target, " "))
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Errorf("axe at %s: %s (%s): %s — %s", url, v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
		} else {
			b.t.Logf("axe at %s: %s (%s): %s — %s", url, v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
		}
	}
}

// errNoNPM: axe-core cannot be fetched (a failure in CI, a skip elsewhere).
var errNoNPM = errors.New("npm is not installed: axe-core cannot be fetched")

var (
	axeOnce sync.Once
	axeJS   string
	axeErr  error
)

func axeSource(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		dir := filepath.Join("testdata", "axe")
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")); err != nil {
			npm, err := exec.LookPath("npm")
			if err != nil {
				axeErr = errNoNPM
				return
			}
			cmd := exec.Command(npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				axeErr = fmt.Errorf("npm ci: %v\n%s", err, out)
				return
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		axeJS, axeErr = string(data), err
	})
	if axeErr == errNoNPM && os.Getenv("CI") == "" {
		t.Skip(axeErr)
	}
	if axeErr != nil {
		t.Fatal(axeErr)
	}
	return axeJS
}

// journey is the whole of it in one language: register (identity proven
// by signature through the signer), log in, choose S1, fill the form,
// attach a file, sign, submit, watch the state change, open the signed
// result; then out, and in again by signature.
func (b *browserTab) journey(lang string, c pageCitizen) {
	t := b.t
	words := pageWords[lang]
	b.navigate("/?lang=" + lang)
	if htmlLang := value(b, chromedp.AttributeValue(chromedp.CSS("html"), "lang")).Value; htmlLang != lang {
		t.Fatalf("the page is in %q, want %q", htmlLang, lang)
	}
	b.shot("catalogue")
	b.axe()

	b.run(chromedp.Click(chromedp.CSS(`a[href="/register"]`)), chromedp.WaitVisible(chromedp.CSS("#register-form")))
	password := "Brauzer-" + c.iin[:4] + "x"
	b.run(chromedp.SendKeys(chromedp.CSS("#iin"), c.iin), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.SendKeys(chromedp.CSS("#password2"), password))
	b.shot("register")
	b.axe()
	b.run(chromedp.Click(chromedp.CSS("#register-submit")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if notice := b.text(".notice"); !strings.Contains(notice, words["registered"]) {
		t.Fatalf("after registering: %q", notice)
	}
	b.shot("registered")

	b.loginWithPassword(c, password)
	b.shot("cabinet-after-login")

	b.navigate("/services/job-seeker-registration")
	b.axe()
	b.fillS1(c, "form")
	b.run(chromedp.WaitVisible(chromedp.CSS("#status")))
	url := value(b, chromedp.Location())
	if !regexp.MustCompile(`/requests/[0-9a-f-]{36}$`).MatchString(url) {
		t.Fatalf("after submitting: at %s", url)
	}
	if due := b.text("#due"); !regexp.MustCompile(`\d\d\.\d\d\.\d{4} \d\d:\d\d`).MatchString(due) {
		t.Errorf("the due date: %q", due)
	}
	b.shot("accepted")
	b.axe()
	b.run(chromedp.WaitVisible(chromedp.CSS(`#status [data-final="true"]`)))
	if state := b.text("#state-text"); state != words["completed"] {
		t.Fatalf("the request ended %q, want %q", state, words["completed"])
	}
	if steps := value(b, chromedp.Evaluate[int](`document.querySelectorAll('ol.history li').length`)); steps < 3 {
		t.Errorf("the history shows %d steps", steps)
	}
	b.shot("completed")

	b.run(chromedp.Click(chromedp.CSS("#result-link")), chromedp.WaitVisible(chromedp.CSS("#signature-verdict")))
	verdict, bin, org, person := b.text("#signature-verdict"), b.text("#signer-bin"), b.text("#signer-organization"), b.text("#signer-person")
	if !strings.Contains(verdict, words["valid"]) || !regexp.MustCompile(`^\d{12}$`).MatchString(bin) || org == "" || person == "" {
		t.Fatalf("the result's signature: %q, BIN %q, %q, %q", verdict, bin, org, person)
	}
	doc := value(b, chromedp.Evaluate[string](`fetch(document.getElementById('download').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if !strings.Contains(doc, "SignatureValue") || !strings.Contains(doc, "X509Certificate") {
		t.Errorf("the document to download is not the signed result: %.200s", doc)
	}
	b.shot("result")
	b.axe()

	b.run(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)))
	b.navigate("/login")
	b.axe()
	b.run(chromedp.Click(chromedp.CSS("#sign-login")), chromedp.WaitVisible(chromedp.CSS("#unread-count")))
	b.shot("cabinet-after-login-by-signature")
	b.axe()
}

// loginWithPassword logs in from the keyboard alone: the IIN typed, Tab to
// the password, Enter.
func (b *browserTab) loginWithPassword(c pageCitizen, password string) {
	b.t.Helper()
	b.navigate("/login")
	b.run(chromedp.SendKeys(chromedp.CSS("#iin"), c.iin+"\t"))
	if focused := value(b, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "password" {
		b.t.Fatalf("Tab after the IIN reaches %q, not the password", focused)
	}
	b.run(chromedp.KeyEvent(password+"\r"), chromedp.WaitVisible(chromedp.CSS("#unread-count")))
}

// loginByPassword logs in as a citizen the journey registered.
func (b *browserTab) loginByPassword(lang string, c pageCitizen) {
	b.t.Helper()
	b.navigate("/login?lang=" + lang)
	b.loginWithPassword(c, "Brauzer-"+c.iin[:4]+"x")
}

// fillS1 fills the form of job-seeker registration on its page, attaches
// the identity card and presses "sign and send".
func (b *browserTab) fillS1(c pageCitizen, shot string) {
	b.t.Helper()
	scan := filepath.Join(b.t.TempDir(), "id-card.pdf")
	if err := os.WriteFile(scan, []byte("%PDF-1.7 identity card of "+c.iin+"\n"), 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.run(chromedp.SetValue(chromedp.CSS("#region"), "almaty-city"),
		chromedp.SendKeys(chromedp.CSS("#surname"), c.surname), chromedp.SendKeys(chromedp.CSS("#givenName"), c.given),
		chromedp.SendKeys(chromedp.CSS("#patronymic"), c.patronymic),
		chromedp.SetValue(chromedp.CSS(`[id="field.education"]`), "higher"),
		chromedp.SendKeys(chromedp.CSS(`[id="field.profession"]`), "инженер"),
		chromedp.SetUploadFiles(chromedp.CSS(`[id="file.identity-document"]`), []string{scan}),
		chromedp.SetValue(chromedp.CSS(`[id="file.identity-document.expires"]`), time.Now().AddDate(3, 0, 0).Format(time.DateOnly)))
	b.shot(shot)
	b.run(chromedp.Click(chromedp.CSS("#sign-submit")))
}

// expectRefusal waits for the form's refusal and checks its code and its
// message in lang.
func (b *browserTab) expectRefusal(shot string, code egov.Code, lang string) {
	b.t.Helper()
	b.run(chromedp.WaitVisible(chromedp.CSS(`#form-error[data-code]`)))
	text, got := b.text("#form-error"), value(b, chromedp.AttributeValue(chromedp.CSS("#form-error"), "data-code")).Value
	b.shot(shot)
	if egov.Code(got) != code || !strings.Contains(text, code.Message().In(lang)) {
		b.t.Fatalf("refusal %q: %q, want %s: %q", got, text, code, code.Message().In(lang))
	}
	// The next try starts clean.
	b.run(chromedp.Evaluate[chromedp.Void](`document.getElementById('form-error').removeAttribute('data-code')`))
}

package man

import (
	"bytes"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// appWithCommands is testApp wired the way main.go is told to.
func appWithCommands() *cli.App {
	app := testApp()
	app.Commands = append(app.Commands, Commands(testApp)...)
	return app
}

func TestCommandsWriteWhatTheFunctionsReturn(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	page8, err := Xhad8(testApp())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []byte
	}{
		{[]string{"gen-man", "8"}, page8},
		{[]string{"gen-man", "5"}, XhadToml5()},
		{[]string{"completion", "bash"}, []byte(BashCompletion())},
		{[]string{"completion", "zsh"}, []byte(ZshCompletion())},
	} {
		var out bytes.Buffer
		app := appWithCommands()
		app.Writer = &out
		if err := app.Run(append([]string{"xhad"}, tc.args...)); err != nil {
			t.Fatalf("xhad %s: %v", strings.Join(tc.args, " "), err)
		}
		if !bytes.Equal(out.Bytes(), tc.want) {
			t.Errorf("xhad %s wrote %d bytes that differ from the function's %d", strings.Join(tc.args, " "), out.Len(), len(tc.want))
		}
	}
}

func TestCommandsRefuseUnknownArguments(t *testing.T) {
	for _, args := range [][]string{{"gen-man"}, {"gen-man", "1"}, {"completion", "fish"}} {
		app := appWithCommands()
		app.Writer = &bytes.Buffer{}
		app.ExitErrHandler = func(*cli.Context, error) {} // keep os.Exit out of the test
		err := app.Run(append([]string{"xhad"}, args...))
		ec, ok := err.(cli.ExitCoder)
		if !ok || ec.ExitCode() != 2 || !strings.Contains(err.Error(), "usage:") {
			t.Errorf("xhad %s: err = %v, want a usage error with exit code 2", strings.Join(args, " "), err)
		}
	}
}

func TestCommandsAreHiddenFromThePage(t *testing.T) {
	page, err := Xhad8(appWithCommands())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gen-man", "gen\\-man", "completion bash"} {
		if strings.Contains(string(page), name) {
			t.Errorf("xhad(8) mentions the hidden %q", name)
		}
	}
}

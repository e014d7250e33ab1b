package schemas

import (
	"reflect"
	"strings"
	"testing"
)

// Every line comes through, however long (bufio.Scanner stops silently at
// 64 KiB), with CRLF endings and without a final line break.
func TestEachLine(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	var got []string
	var nums []int
	err := EachLine([]byte("a\r\n"+long+"\n\nlast"), func(n int, text []byte) error {
		got, nums = append(got, string(text)), append(nums, n)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, []string{"a", long, "", "last"}) || !reflect.DeepEqual(nums, []int{1, 2, 3, 4}) {
		t.Errorf("%d lines %v, %v", len(got), nums, err)
	}
}

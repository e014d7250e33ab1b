package pipelines

import "flag"

func flagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.PanicOnError) }

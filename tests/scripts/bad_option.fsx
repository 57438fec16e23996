// A script with a typo in a string option: F# converts "rleu" in this script's own code, before any DSL function runs,
// and F# Interactive should still show the library's message and this script's line.
#load "../../dsl/Functional.fsx"

open Functional.FSharp
open type Functional.FSharp.Layers

let model =
    sequential {
        input (4, 4, 1)
        conv2d (8, 3, activation = "rleu")
    }

// A script with a declaration error: F# Interactive should show the library's message and this script's line.
#load "../../dsl/Functional.fsx"

open Functional.FSharp
open type Functional.FSharp.Layers

let model =
    sequential {
        input (4, 4, 1)
        conv2d (8, 5)
    }

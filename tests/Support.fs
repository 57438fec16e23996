/// Shared test helpers: FsCheck configuration, generators and torch helpers.
module Functional.Tests.Support

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Torch.Native

/// Wide ranges for the pure laws.
let pureConfig = { FsCheckConfig.defaultConfig with maxTest = 500 }
/// Few, small cases for laws that run real TorchSharp modules.
let torchConfig = { FsCheckConfig.defaultConfig with maxTest = 40 }

let propertyWith config name (arb: Arbitrary<'a>) (law: 'a -> bool) =
    testPropertyWithConfig config name (Prop.forAll arb law)

/// Loads libtorch (through the library's own loader) and seeds torch.
let torchReady (seed: int) =
    LibTorch.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore

/// `expect` that the action throws `'e` whose message contains every fragment.
let throwsWith<'e when 'e :> exn> (fragments: string list) (action: unit -> unit) =
    try
        action ()
        failtestf "expected %s" typeof<'e>.Name
    with :? 'e as ex ->
        for f in fragments do
            Expect.stringContains ex.Message f (sprintf "message should name %s" f)

let ceilDiv a b = (a + b - 1) / b

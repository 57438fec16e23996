/// Shape arithmetic at the overflow boundaries (issue 12): element counts, flattened sizes, convolution lengths and
/// parameter counts are exact, or a clear error naming the layer or model — never a wrapped-around number.
module Functional.Tests.OverflowLaws

open System
open System.Numerics
open Expecto
open FsCheck
open FsCheck.FSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Shapes
open Functional.Tests.Support

/// Dimensions from small to Int32.MaxValue, weighted towards the values where 32- and 64-bit products overflow.
let dim =
    Gen.frequency
        [ 3, Gen.choose (1, 8)
          2, Gen.elements [ 46_340; 46_341; 65_536; 3_037_000; 2_097_152; 1_073_741_824; Int32.MaxValue - 1; Int32.MaxValue ]
          2, Gen.choose (1, Int32.MaxValue) ]

let dims = Gen.choose (0, 6) |> Gen.bind (fun n -> Gen.listOfLength n dim)

let product (ds: int seq) = ds |> Seq.fold (fun (acc: BigInteger) d -> acc * BigInteger d) BigInteger.One
let maxLong = BigInteger Int64.MaxValue

/// True when `f` throws 'e whose message contains every fragment.
let throwsNaming<'e when 'e :> exn> (fragments: string list) (f: unit -> obj) =
    try f () |> ignore; false
    with
    | :? 'e as e -> fragments |> List.forall (fun x -> e.Message.Contains(x: string))
    | _ -> false

[<Tests>]
let tests =
    testList "Overflow laws" [
        propertyWith pureConfig "Shape.ElementCount is the exact product; Size is it, or an OverflowException naming the shape"
            (Arb.fromGen dims) (fun ds ->
                let s = Shape(ds)
                let exact = product ds
                s.ElementCount.Value = exact
                && (if exact <= maxLong then s.Size.Value = int64 exact
                    else throwsNaming<OverflowException> [ s.ToSampleString(); "64-bit" ] (fun () -> box s.Size)))

        propertyWith pureConfig "Flatten gives the exact size, or a ShapeException naming the layer"
            (Arb.fromGen (Gen.zip dims (Gen.elements [ None; Some "flat" ]))) (fun (ds, name) ->
                let layer = Flatten(Name = Option.toObj name)
                let exact = product ds
                if exact <= BigInteger Int32.MaxValue then layer.ComputeOutputShape(Shape ds) = Shape(int exact)
                else
                    throwsNaming<ShapeException> [ layer.Describe(); "flattened size"; exact.ToString("N0") ] (fun () -> box (layer.ComputeOutputShape(Shape ds)))
                    && throwsNaming<ShapeException> [ "Flatten"; "flattened size" ] (fun () -> box (Sequential(Input(Shape ds), layer))))

        propertyWith pureConfig "a Conv2D's parameter count is exact, or its declaration names the layer"
            (Arb.fromGen (Gen.zip (Gen.zip dim dim) (Gen.zip dim dim))) (fun ((k1, k2), (channels, filters)) ->
                let exact = BigInteger k1 * BigInteger k2 * BigInteger channels * BigInteger filters + BigInteger filters
                let declare () = Sequential(Input(1, 1, channels), Conv2D(filters, (k1, k2), padding = "same", Name = "wide"))
                if exact <= maxLong then
                    let m = declare ()
                    m.ParameterCount = int64 exact && m.Summary().Contains(ModelSummary.Count(int64 exact))
                else throwsNaming<ShapeException> [ "Conv2D 'wide'"; "64-bit count" ] (declare >> box))

        propertyWith pureConfig "a model's total is exact, or its declaration names the model and the layer that passes 2^63 − 1"
            (Arb.fromGen (Gen.zip dim (Gen.listOfLength 3 dim))) (fun (features, units) ->
                let layers = units |> List.mapi (fun i u -> Dense(u, Name = sprintf "d%d" i) :> Layer)
                let inputs = features :: units
                let counts = List.map2 (fun (n: int) (u: int) -> BigInteger n * BigInteger u + BigInteger u) (List.take 3 inputs) units
                let declare () = Sequential("big", [ yield Input(features) :> Layer; yield! layers ])
                let graph () =
                    let x = Graph.Input(features)
                    Model(x, layers |> List.fold (fun (t: SymbolicTensor) (l: Layer) -> l.Call(t: SymbolicTensor)) x, name = "big")
                match List.scan (+) BigInteger.Zero counts |> List.tryFindIndex (fun c -> c > maxLong) with
                | None ->
                    let total = int64 (List.sum counts)
                    let m = declare ()
                    m.ParameterCount = total && m.Summary().Contains(ModelSummary.Count total) && graph().ParameterCount = total
                | Some past ->
                    let layer = sprintf "d%d" (past - 1)
                    throwsNaming<ArgumentException> [ "Model 'big'"; "64-bit count"; layer ] (declare >> box)
                    && throwsNaming<ArgumentException> [ "Model 'big'"; "64-bit count"; layer ] (graph >> box))

        propertyWith pureConfig "a transposed convolution's length is exact, or an OverflowException saying which length"
            (Arb.fromGen (Gen.zip (Gen.zip dim dim) (Gen.zip (Gen.choose (1, 4)) (Gen.elements [ Padding.Valid; Padding.Same ]))))
            (fun ((n, stride), (kernel, padding)) ->
                let k = int64 kernel
                let exact =
                    if padding.Kind = PaddingKind.Valid then int64 n * int64 stride + max (k - int64 stride) 0L else int64 n * int64 stride
                if exact <= int64 Int32.MaxValue then ConvArithmetic.ConvTransposeOutputLength(n, kernel, stride, padding) = int exact
                else throwsNaming<OverflowException> [ "transposed convolution's output length"; "largest dimension" ]
                         (fun () -> box (ConvArithmetic.ConvTransposeOutputLength(n, kernel, stride, padding))))

        test "the cases issue 12 names" {
            // A 2^128-element input flattened to (None, 1).
            let huge = Shape(Array.create 4 Int32.MaxValue |> Array.append [| 16 |])
            throwsWith<ShapeException> [ "Flatten"; "flattened size" ] (fun () -> Sequential(Input huge, Flatten()) |> ignore)
            // A Conv2D kernel counted as −1 parameters.
            throwsWith<ShapeException> [ "Conv2D"; "64-bit count" ] (fun () ->
                Sequential(Input(1, 1, Int32.MaxValue), Conv2D(Int32.MaxValue, (Int32.MaxValue, Int32.MaxValue), padding = "same")) |> ignore)
            // Three Dense(2^31 − 1) made Summary() throw a bare OverflowException.
            throwsWith<ArgumentException> [ "Model 'sequential'"; "64-bit count"; "dense_2" ] (fun () ->
                Sequential(Input(Int32.MaxValue), Dense(Int32.MaxValue), Dense(Int32.MaxValue), Dense(Int32.MaxValue)) |> ignore)
            // Arithmetic in the core is checked: three (2^31 − 1)-wide inputs concatenated wrapped to a positive 2^31 − 3.
            let a, b, c = Graph.Input(Int32.MaxValue), Graph.Input(Int32.MaxValue), Graph.Input(Int32.MaxValue)
            throwsWith<ShapeException> [ "Concatenate 'joined'"; "overflow" ] (fun () -> Concatenate(Name = "joined").Call(a, b, c) |> ignore)
            let two = Sequential(Input(Int32.MaxValue), Dense(Int32.MaxValue), Dense(Int32.MaxValue))
            let each = BigInteger Int32.MaxValue * BigInteger Int32.MaxValue + BigInteger Int32.MaxValue
            Expect.equal (BigInteger two.ParameterCount) (each * BigInteger 2) "exact below 2^63"
            Expect.stringContains (two.Summary()) (ModelSummary.Count two.ParameterCount) "the summary prints it"
        }
    ]

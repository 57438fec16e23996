/// Invalid input as laws over generated invalid cases, across layer families: each asserts the exception type and
/// that the message names the layer or argument and the offending value or dimension. Never a native crash.
/// Also: seed 001's ZeroPadding2D printed matrices, and `same` with stride 1 preserving spatial dimensions.
module Functional.Tests.InvalidInputLaws

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Tests.Support

/// True when `action` throws 'e whose message contains every fragment.
let rejects<'e when 'e :> exn> (fragments: string list) (action: unit -> unit) =
    try
        action ()
        false
    with
    | :? 'e as e -> fragments |> List.forall (fun f -> e.Message.Contains(f: string))
    | _ -> false

let nonPositive = Gen.choose (-1000, 0)

[<Tests>]
let laws =
    testList "Invalid input (generated)" [
        propertyWith pureConfig "Conv1D/2D/3D reject non-positive filters, naming 'filters' and the value" (Arb.fromGen (Gen.zip nonPositive (Gen.choose (1, 3)))) (fun (f, rank) ->
            let make () =
                match rank with
                | 1 -> Conv1D(f, 3) :> Layer
                | 2 -> Conv2D(f, 3) :> Layer
                | _ -> Conv3D(f, 3) :> Layer
            rejects<ArgumentException> [ "filters"; sprintf "filters=%d" f ] (make >> ignore))

        propertyWith pureConfig "Conv2D rejects any non-positive kernel size, naming 'kernelSize' and the tuple" (Arb.fromGen (Gen.zip nonPositive (Gen.choose (1, 9)))) (fun (bad, good) ->
            rejects<ArgumentException> [ "kernelSize"; sprintf "(%d, %d)" good bad ] (fun () -> Conv2D(4, (good, bad)) |> ignore))

        propertyWith pureConfig "Conv2D rejects strides > 1 with dilation > 1, naming both" (Arb.fromGen (Gen.zip (Gen.choose (2, 9)) (Gen.choose (2, 9)))) (fun (s, d) ->
            rejects<ArgumentException> [ sprintf "strides=(%d, %d)" s s; sprintf "dilationRate=(%d, %d)" d d ] (fun () -> Conv2D(4, 3, strides = s, dilationRate = d) |> ignore))

        propertyWith pureConfig "an input smaller than a valid kernel is rejected at declaration, naming layer, shape and axis" (Arb.fromGen (gen {
            let! k = Gen.choose (2, 9)
            let! d = Gen.choose (1, 4)
            let! n = Gen.choose (1, (k - 1) * d)
            let! w = Gen.choose ((k - 1) * d + 1, 40)
            return k, d, n, w })) (fun (k, d, n, w) ->
            rejects<ShapeException> [ "Conv2D 'conv2d'"; sprintf "(None, %d, %d, 3)" n w; "axis 1" ] (fun () ->
                Sequential(Input(n, w, 3), Conv2D(8, k, dilationRate = d)) |> ignore))

        propertyWith pureConfig "pooling rejects a non-positive pool size, naming 'poolSize' and the value" (Arb.fromGen nonPositive) (fun p ->
            rejects<ArgumentException> [ "poolSize"; string p ] (fun () -> MaxPooling2D(p) |> ignore)
            && rejects<ArgumentException> [ "poolSize"; string p ] (fun () -> AveragePooling2D(p) |> ignore))

        propertyWith pureConfig "Dense rejects non-positive units, naming the value" (Arb.fromGen nonPositive) (fun u ->
            rejects<ArgumentException> [ "Dense"; sprintf "units=%d" u ] (fun () -> Dense(u) |> ignore))

        propertyWith pureConfig "Dropout rejects a rate outside [0, 1], naming the value" (Arb.fromGen (Gen.oneof [ Gen.choose (101, 100000); Gen.choose (-100000, -1) ])) (fun r ->
            let rate = float r / 100.0
            rejects<ArgumentException> [ "Dropout"; "rate=" ] (fun () -> Dropout(rate) |> ignore))

        propertyWith pureConfig "Cropping2D that leaves nothing is rejected at declaration, naming the layer and the shape" (Arb.fromGen (gen {
            let! h = Gen.choose (1, 30)
            let! top = Gen.choose (0, h)
            let! bottom = Gen.choose (h - top, h + 5)
            return h, top, bottom })) (fun (h, top, bottom) ->
            rejects<ArgumentException> [ "Cropping2D"; sprintf "(None, %d, 8, 2)" h ] (fun () ->
                Sequential(Input(h, 8, 2), Cropping2D(((top, bottom), (0, 0)))) |> ignore))

        propertyWith pureConfig "negative cropping or padding is rejected, naming the argument" (Arb.fromGen (Gen.choose (-50, -1))) (fun v ->
            rejects<ArgumentException> [ "cropping" ] (fun () -> Cropping2D(v) |> ignore)
            && rejects<ArgumentException> [ "padding" ] (fun () -> ZeroPadding2D(v) |> ignore))

        propertyWith pureConfig "unknown padding and data_format strings are rejected naming the value" (Arb.fromGen (Gen.elements [ "full"; "SAMEE"; "vaild"; "causal!"; "" ])) (fun s ->
            rejects<ArgumentException> [ "padding" ] (fun () -> Padding.Parse s |> ignore)
            && rejects<ArgumentException> [ "data_format" ] (fun () -> DataFormat.Parse s |> ignore))

        propertyWith pureConfig "a rank mismatch is a ShapeException naming the layer and the rank, for every spatial family" (Arb.fromGen (Gen.choose (1, 6))) (fun d ->
            let flat = Shape(d)
            rejects<ShapeException> [ "Conv2D"; "rank" ] (fun () -> Conv2D(2, 1).ComputeOutputShape flat |> ignore)
            && rejects<ShapeException> [ "MaxPooling2D"; "rank" ] (fun () -> MaxPooling2D(1).ComputeOutputShape flat |> ignore))

        propertyWith pureConfig "`same` with stride 1 preserves every spatial dimension (any kernel, dilation, rank-2 input)" (Arb.fromGen (gen {
            let! h = Gen.choose (1, 300)
            let! w = Gen.choose (1, 300)
            let! k = Gen.choose (1, 11)
            let! d = Gen.choose (1, 5)
            return h, w, k, d })) (fun (h, w, k, d) ->
            Conv2D(5, k, padding = "same", dilationRate = d).ComputeOutputShape(Shape(h, w, 3)) = Shape(h, w, 5)
            && MaxPooling2D(k, 1, "same").ComputeOutputShape(Shape(h, w, 3)) = Shape(h, w, 3))

        testSequenced <| test "a batch of the wrong rank or size never reaches libtorch: a clear managed error" {
            torchReady 21
            use net = BuiltModel.Build(Sequential(Input(8, 8, 3), Conv2D(4, 3)))
            for shape in [ [| 2L; 8L; 8L |]; [| 2L; 8L; 8L; 4L |]; [| 2L; 3L; 8L; 8L |] ] do
                use x = torch.zeros(shape)
                throwsWith<ArgumentException> [ "(None, 8, 8, 3)" ] (fun () -> net.forward x |> ignore)
        }
    ]

let private image () = torch.tensor([| 1.0f .. 9.0f |]).reshape(1L, 3L, 3L, 1L)

let private padded (padding: SidePairs) =
    use net = BuiltModel.Build(Sequential(Input(3, 3, 1), ZeroPadding2D(padding)))
    use x = image ()
    use y = net.forward x
    let h, w = int y.shape.[1], int y.shape.[2]
    let v = y.contiguous().data<float32>().ToArray()
    Array2D.init h w (fun i j -> v.[i * w + j])

[<Tests>]
let seed001 =
    testSequenced <| testList "Seed 001 ZeroPadding2D" [
        test "ZeroPadding2D(((1, 0), (1, 0))) on [[1,2,3],[4,5,6],[7,8,9]] prints the seed's 4×4 matrix" {
            torchReady 22
            Expect.equal (padded (SidePairs.FromPairs(struct (1, 0), struct (1, 0)))) (array2D [ [ 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 1.f; 2.f; 3.f ]; [ 0.f; 4.f; 5.f; 6.f ]; [ 0.f; 7.f; 8.f; 9.f ] ]) "((1,0),(1,0))"
        }
        test "ZeroPadding2D(((2, 0), (2, 0))) gives the seed's 5×5 matrix" {
            Expect.equal (padded (SidePairs.FromPairs(struct (2, 0), struct (2, 0))))
                (array2D [ [ 0.f; 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 0.f; 1.f; 2.f; 3.f ]; [ 0.f; 0.f; 4.f; 5.f; 6.f ]; [ 0.f; 0.f; 7.f; 8.f; 9.f ] ]) "((2,0),(2,0))"
        }
        test "ZeroPadding2D(((1, 1), (1, 1))) gives the seed's bordered matrix" {
            Expect.equal (padded (SidePairs.FromPairs(struct (1, 1), struct (1, 1))))
                (array2D [ [ 0.f; 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 1.f; 2.f; 3.f; 0.f ]; [ 0.f; 4.f; 5.f; 6.f; 0.f ]; [ 0.f; 7.f; 8.f; 9.f; 0.f ]; [ 0.f; 0.f; 0.f; 0.f; 0.f ] ]) "((1,1),(1,1))"
        }
    ]

/// Unknown (None) dimensions: shape functions total over them as Keras's compute_output_shape, configs and summaries
/// that write None, and built layers that compute padding and windows per call, so one built model runs at many sizes.
module Functional.Tests.UnknownDimensionTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Torch.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

type G = Functional.Models.Graph

let private none = Nullable<int>()
let private d (n: int) = Nullable n
let private shapeOf (dims: int option list) = Functional.FSharp.Shape.ofOptions dims

/// Saves `source`'s weights and loads them into `target` (the same layer names and shapes).
let private copyWeights (source: BuiltNetwork) (target: BuiltNetwork) =
    let file = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "unknown-dims-%s.safetensors" (Guid.NewGuid().ToString("N")))
    try
        Saving.WeightFiles.SaveWeights(source, file)
        Saving.WeightFiles.LoadWeights(target, file)
    finally IO.File.Delete file

/// A spatial layer and a channels_last input (h, w, c) it fits, drawn widely.
type SpatialCase = { Layer: Layer; H: int; W: int; C: int }

let private spatialCases =
    gen {
        let! kind = Gen.choose (0, 7)
        let! k = Gen.choose (1, 4)
        let! s = Gen.choose (1, 3)
        let! same = Gen.elements [ true; false ]
        let! h = Gen.choose (k + 1, 40)
        let! w = Gen.choose (k + 1, 40)
        let! c = Gen.choose (1, 5)
        let padding = if same then Padding.Same else Padding.Valid
        let layer: Layer =
            match kind with
            | 0 -> Conv2D(3, IntTuple(k), strides = IntTuple(s), padding = padding)
            | 1 -> MaxPooling2D(IntTuple(k), strides = IntTuple(s), padding = padding)
            | 2 -> AveragePooling2D(IntTuple(k), strides = IntTuple(s), padding = padding)
            | 3 -> DepthwiseConv2D(IntTuple(k), strides = IntTuple(s), padding = padding)
            | 4 -> Conv2DTranspose(2, IntTuple(k), strides = IntTuple(s), padding = padding)
            | 5 -> ZeroPadding2D(SidePairs(k))
            | 6 -> UpSampling2D(IntTuple(s))
            | _ -> Cropping2D(SidePairs(k / 2))
        return { Layer = layer; H = h; W = w; C = c }
    }
    |> Arb.fromGen

let tests =
    testList "Unknown (None) dimensions" [
        testList "shape functions are total over None, as Keras's compute_output_shape" [
            propertyWith pureConfig "an unknown input dimension leaves the other axes' outputs unchanged and its own unknown" spatialCases (fun c ->
                let known = c.Layer.ComputeOutputShape(Shape(c.H, c.W, c.C))
                let rowsUnknown = c.Layer.ComputeOutputShape(Shape(none, d c.W, d c.C))
                let colsUnknown = c.Layer.ComputeOutputShape(Shape(d c.H, none, d c.C))
                let both = c.Layer.ComputeOutputShape(Shape(none, none, d c.C))
                rowsUnknown = known.With(0, none) && colsUnknown = known.With(1, none) && both = known.With(0, none).With(1, none))

            test "Keras's results on None dimensions" {
                let cases: (Layer * Shape list * Shape) list =
                    [ Conv2D(8, 3), [ shapeOf [ None; None; Some 3 ] ], shapeOf [ None; None; Some 8 ]
                      Conv1D(4, 3, padding = "causal"), [ shapeOf [ None; Some 2 ] ], shapeOf [ None; Some 4 ]
                      Dense(5), [ shapeOf [ None; Some 3 ] ], shapeOf [ None; Some 5 ]
                      Flatten(), [ shapeOf [ None; Some 4 ] ], shapeOf [ None ]
                      Reshape(IntTuple(-1, 4)), [ shapeOf [ None; Some 8 ] ], shapeOf [ None; Some 4 ]
                      Reshape(IntTuple(2, 4)), [ shapeOf [ None; Some 8 ] ], Shape(2, 4)
                      Permute(IntTuple(2, 1)), [ shapeOf [ None; Some 8 ] ], shapeOf [ Some 8; None ]
                      RepeatVector(3), [ shapeOf [ None ] ], shapeOf [ Some 3; None ]
                      Concatenate(), [ shapeOf [ None; Some 4 ]; shapeOf [ None; Some 3 ] ], shapeOf [ None; Some 7 ]
                      Concatenate(axis = 1), [ shapeOf [ None; Some 4 ]; shapeOf [ Some 5; Some 4 ] ], shapeOf [ None; Some 4 ]
                      Add(), [ shapeOf [ None; Some 4 ]; shapeOf [ Some 1; Some 4 ] ], shapeOf [ None; Some 4 ]
                      Multiply(), [ shapeOf [ Some 5; Some 4 ]; shapeOf [ Some 1; None ] ], shapeOf [ Some 5; None ]
                      GlobalAveragePooling2D(), [ shapeOf [ None; None; Some 3 ] ], Shape(3)
                      GlobalMaxPooling1D(keepdims = true), [ shapeOf [ None; Some 6 ] ], Shape(1, 6)
                      UpSampling2D(IntTuple(2)), [ shapeOf [ None; Some 5; Some 3 ] ], shapeOf [ None; Some 10; Some 3 ]
                      ZeroPadding2D(SidePairs(1)), [ shapeOf [ None; Some 5; Some 3 ] ], shapeOf [ None; Some 7; Some 3 ]
                      Cropping1D(IntTuple(1, 1)), [ shapeOf [ None; Some 3 ] ], shapeOf [ None; Some 3 ]
                      Conv2DTranspose(4, 3, strides = 2), [ shapeOf [ None; Some 5; Some 3 ] ], shapeOf [ None; Some 11; Some 4 ]
                      MaxPooling2D(2), [ shapeOf [ None; Some 9; Some 3 ] ], shapeOf [ None; Some 4; Some 3 ]
                      BatchNormalization(), [ shapeOf [ None; None; Some 3 ] ], shapeOf [ None; None; Some 3 ]
                      LayerNormalization(), [ shapeOf [ None; Some 6 ] ], shapeOf [ None; Some 6 ]
                      Dot(IntTuple(2)), [ shapeOf [ None; Some 4 ]; shapeOf [ None; Some 4 ] ], shapeOf [ None; None ] ]
                for layer, inputs, expected in cases do
                    Expect.equal (layer.ComputeOutputShape(Collections.Generic.List(inputs))) expected (sprintf "%s on %A" layer.ClassName inputs)
            }

            test "weights need their dimensions known: Keras's build errors name the layer and the axis" {
                throwsWith<ShapeException> [ "Dense"; "(None, 3, None)"; "last dimension"; "Found None" ] (fun () ->
                    Dense(4).Parameters(shapeOf [ Some 3; None ]) |> ignore)
                throwsWith<ShapeException> [ "Conv2D"; "channel dimension"; "Found None" ] (fun () ->
                    Conv2D(4, 3).Parameters(shapeOf [ Some 8; Some 8; None ]) |> ignore)
                throwsWith<ShapeException> [ "BatchNormalization"; "normalized axis"; "Found None" ] (fun () ->
                    BatchNormalization().Parameters(shapeOf [ Some 8; None ]) |> ignore)
                throwsWith<ShapeException> [ "PReLU"; "axis 1"; "Found None" ] (fun () ->
                    PReLU().Parameters(shapeOf [ None; Some 4 ]) |> ignore)
                Expect.equal (PReLU(sharedAxes = IntTuple(1)).Parameters(shapeOf [ None; Some 4 ]).[0].Shape) (Shape(1, 4)) "shared over the unknown axis"
                throwsWith<ShapeException> [ "Dense"; "last dimension" ] (fun () ->
                    Sequential(Input(shapeOf [ Some 4; None ]), Dense(2)) |> ignore)
                // Shapes alone: the output is still known where Keras knows it.
                Expect.equal (Dense(4).ComputeOutputShape(shapeOf [ Some 3; None ])) (Shape(3, 4)) "Dense's output shape needs no weights"
            }

            test "summaries print None and configs write null" {
                let x = G.Input(Shape(none, none, d 3), "image")
                let y = Conv2D(8, 3, padding = "same", Name = "conv").Call(x)
                let m = Model(x, GlobalMaxPooling2D(Name = "pool").Call(y))
                let summary = m.Summary()
                Expect.stringContains summary "(None, None, None, 3)" "input row"
                Expect.stringContains summary "(None, None, None, 8)" "conv row"
                Expect.stringContains summary "224" "parameters still counted (3·3·3·8 + 8)"
                let json = Text.Json.Nodes.JsonNode.Parse(m.ToJson())
                let inputConfig = json.["config"].["layers"].[0].["config"]
                Expect.equal (inputConfig.["batch_shape"].ToJsonString()) "[null,null,null,3]" "batch_shape"
                Expect.equal (ModelConfig.FromJson(m.ToJson())) (m :> IModel) "round trip"
            }
        ]

        testList "built layers compute per call" [
            test "a fully convolutional model is built once and runs on 32×32 and 57×41, as the same layers declared for each size" {
                torchReady 31
                let layers () : Layer list =
                    [ Conv2D(6, 3, padding = "same", activation = "relu", Name = "c1")
                      MaxPooling2D(3, strides = 2, padding = "same", Name = "p1")
                      DepthwiseConv2D(IntTuple(3), strides = IntTuple(2), padding = "same", Name = "dw")
                      AveragePooling2D(IntTuple(2), padding = "same", Name = "p2")
                      Conv2D(4, 5, padding = "same", Name = "c2")
                      Cropping2D(SidePairs(1), Name = "crop")
                      UpSampling2D(IntTuple(2), Name = "up") ]
                let fcn = Sequential(Array.ofList ((Input(Shape(none, none, d 3)) :> Layer) :: layers ()))
                Expect.equal fcn.OutputShape (Shape(none, none, d 4)) "declared with unknown sizes"
                use built = BuiltNetwork.Build fcn
                for h, w in [ 32, 32; 57, 41; 19, 23 ] do
                    let fixedSize = Sequential(Array.ofList ((Input(h, w, 3) :> Layer) :: layers ()))
                    use reference = BuiltNetwork.Build fixedSize
                    copyWeights built reference
                    use x = torch.rand(2L, int64 h, int64 w, 3L)
                    use y = built.Predict x
                    use expected = reference.Predict x
                    Expect.sequenceEqual y.shape (fixedSize.OutputShape.WithBatch 2L) (sprintf "%dx%d: forward shape = inferred shape" h w)
                    Expect.isTrue (y.allclose(expected, rtol = 1e-5, atol = 1e-6)) (sprintf "%dx%d: the values of the layers declared for this size" h w)
            }

            test "a variable-length sequence model (Input(None, 8)) runs at lengths 5 and 13" {
                torchReady 32
                let layers () : Layer list =
                    [ Conv1D(6, 3, padding = "causal", activation = "relu", Name = "conv")
                      MaxPooling1D(2, padding = "same", Name = "pool")
                      Conv1D(5, 2, dilationRate = IntTuple(2), padding = "same", Name = "dilated")
                      GlobalAveragePooling1D(Name = "gap")
                      Dense(3, activation = "softmax", Name = "out") ]
                let model = Sequential(Array.ofList (Functional.FSharp.Layers.inputOf [ None; Some 8 ] :: layers ()))
                Expect.equal (Functional.FSharp.Model.inputOf [ None; Some 8 ]).InputShapes.[0] (shapeOf [ None; Some 8 ]) "the DSL's inputOf"
                Expect.equal model.OutputShape (Shape 3) "known output"
                use built = BuiltNetwork.Build model
                for length in [ 5; 13; 1 ] do
                    use reference = BuiltNetwork.Build(Sequential(Array.ofList ((Input(length, 8) :> Layer) :: layers ())))
                    copyWeights built reference
                    use x = torch.randn(3L, int64 length, 8L)
                    use y = built.Predict x
                    use expected = reference.Predict x
                    Expect.isTrue (y.allclose(expected, rtol = 1e-5, atol = 1e-6)) (sprintf "length %d" length)
                use wrong = torch.randn(3L, 5L, 7L)
                throwsWith<ArgumentException> [ "(None, None, 8)"; "(3, 5, 7)" ] (fun () -> built.Predict wrong |> ignore)
            }

            test "a Lambda without an output shape infers None where the function's output follows an unknown input size" {
                torchReady 33
                let lambda = Lambda(Func<torch.Tensor, torch.Tensor>(fun t -> t.sum(1L)))
                Expect.equal (lambda.ComputeOutputShape(shapeOf [ None; Some 4 ])) (Shape 4) "the summed axis is gone"
                let tile = Lambda(Func<torch.Tensor, torch.Tensor>(fun t -> torch.cat([| t; t |], 1L)))
                Expect.equal (tile.ComputeOutputShape(shapeOf [ None; Some 4 ])) (shapeOf [ None; Some 4 ]) "doubled unknown stays unknown"
            }
        ]

        testList "applications without a top default to (None, None, 3)" [
            test "declared, summarised, built once and run at two sizes" {
                torchReady 34
                for name, make in
                    [ "MobileNetV2", (fun (s: Shape) -> Applications.MobileNetV2(inputShape = s, includeTop = false, pooling = "avg"))
                      "ResNet50", (fun (s: Shape) -> Applications.ResNet50(inputShape = s, includeTop = false)) ] do
                    let m: Model = make null
                    Expect.equal m.InputShapes.[0] (Shape(none, none, d 3)) (name + ": Keras's (None, None, 3)")
                    Expect.stringContains (m.Summary()) "(None, None," (name + ": summary (the input row, wrapped)")
                    use built = BuiltNetwork.Build m
                    for h, w in [ 64, 64; 75, 97 ] do
                        let fixedSize: Model = make (Shape(h, w, 3))
                        Expect.equal fixedSize.ParameterCount m.ParameterCount (sprintf "%s %dx%d: the same weights" name h w)
                        use x = torch.rand(1L, int64 h, int64 w, 3L)
                        use y = built.Predict x
                        Expect.sequenceEqual y.shape (fixedSize.OutputShapes.[0].WithBatch 1L) (sprintf "%s %dx%d: forward shape = the shape declared for this size" name h w)
                        Expect.isTrue (y.isfinite().all().item<bool>()) (sprintf "%s %dx%d: finite" name h w)
            }

            test "with the top, Keras asks for a static shape" {
                throwsWith<ArgumentException> [ "ResNet50"; "include_top"; "static"; "(None, None, 3)" ] (fun () ->
                    Applications.ResNet50(inputShape = Shape(none, none, d 3)) |> ignore)
            }
        ]
    ]

[<Tests>]
let all = tests

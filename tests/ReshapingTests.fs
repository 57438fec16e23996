/// Cropping1D/2D/3D, ZeroPadding1D/2D/3D, UpSampling1D/2D/3D: Keras's defaults and argument forms, shape laws, no
/// parameters, Keras's examples, errors at declaration, and the built modules against exact slices, pads, repeats and
/// TensorFlow's half-pixel bilinear resize.
module Functional.Tests.ReshapingTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support
open Functional.Tests.ConvolutionTests

/// Per-side amounts for a 2-D layer and an input big enough to crop them: ((top, bottom), (left, right)), (h, w, c), channels_last?
type SidesCase = { Sides: (int * int) * (int * int); Input: int * int * int; ChannelsLast: bool }

let sidesCase maxAmount =
    gen {
        let! t = Gen.choose (0, maxAmount)
        let! b = Gen.choose (0, maxAmount)
        let! l = Gen.choose (0, maxAmount)
        let! r = Gen.choose (0, maxAmount)
        let! extraH = Gen.choose (1, 9)
        let! extraW = Gen.choose (1, 9)
        let! c = Gen.choose (1, 4)
        let! channelsLast = Gen.elements [ true; false ]
        return { Sides = ((t, b), (l, r)); Input = (t + b + extraH, l + r + extraW, c); ChannelsLast = channelsLast }
    }

let private fmt channelsLast = if channelsLast then DataFormat.ChannelsLast else DataFormat.ChannelsFirst
let private shape2d channelsLast (h: int, w: int, c: int) = if channelsLast then Shape(h, w, c) else Shape(c, h, w)
let private sides (c: SidesCase) : SidePairs = SidePairs.op_Implicit c.Sides

/// TensorFlow's ResizeBilinear with half_pixel_centers (tf.image.resize v2, antialias off), one output coordinate.
let private tfSource (outIndex: int) (inSize: int) (outSize: int) =
    let scale = float inSize / float outSize
    let inCoord = (float outIndex + 0.5) * scale - 0.5
    let floorC = Math.Floor inCoord
    let lower = max (int floorC) 0
    let upper = min (int (Math.Ceiling inCoord)) (inSize - 1)
    lower, upper, inCoord - floorC

/// Naive NHWC bilinear upsampling as TensorFlow computes it.
let naiveBilinear (x: float32[,,,]) (fh, fw) =
    let n, h, w, c = Array4D.length1 x, Array4D.length2 x, Array4D.length3 x, Array4D.length4 x
    Array4D.init n (h * fh) (w * fw) c (fun b i j ch ->
        let top, bottom, dy = tfSource i h (h * fh)
        let left, right, dx = tfSource j w (w * fw)
        let lerp a bb t = a + (bb - a) * t
        let topRow = lerp (float x.[b, top, left, ch]) (float x.[b, top, right, ch]) dx
        let bottomRow = lerp (float x.[b, bottom, left, ch]) (float x.[b, bottom, right, ch]) dx
        float32 (lerp topRow bottomRow dy))

let private values (t: torch.Tensor) = t.contiguous().cpu().data<float32>().ToArray()

let private run (layer: Layer) (x: torch.Tensor) =
    let input = Shape(x.shape |> Array.skip 1 |> Array.map int)
    let model = Sequential(Input(input), layer)
    use built = BuiltNetwork.Build(model)
    let y = built.forward x
    model, y

[<Tests>]
let pureLaws =
    testList "Reshaping layers (pure)" [
        test "Keras's defaults: Cropping1D (1, 1), Cropping2D ((0, 0), (0, 0)), Cropping3D ((1, 1)×3), ZeroPadding 1 per side, UpSampling 2, nearest" {
            Expect.equal (Cropping1D().Cropping) (IntTuple(1, 1)) "Cropping1D"
            Expect.equal (Cropping2D().Cropping) (SidePairs.FromPairs(struct (0, 0), struct (0, 0))) "Cropping2D"
            Expect.equal (Cropping3D().Cropping) (SidePairs.FromPairs(struct (1, 1), struct (1, 1), struct (1, 1))) "Cropping3D"
            Expect.equal (ZeroPadding1D().Padding) (IntTuple(1, 1)) "ZeroPadding1D"
            Expect.equal (ZeroPadding2D().Padding) (SidePairs.FromPairs(struct (1, 1), struct (1, 1))) "ZeroPadding2D"
            Expect.equal (ZeroPadding3D().Padding) (SidePairs.FromPairs(struct (1, 1), struct (1, 1), struct (1, 1))) "ZeroPadding3D"
            Expect.equal (UpSampling1D().Size) 2 "UpSampling1D"
            Expect.equal (UpSampling2D().Size, UpSampling2D().Interpolation) (IntTuple(2, 2), "nearest") "UpSampling2D"
            Expect.equal (UpSampling3D().Size) (IntTuple(2, 2, 2)) "UpSampling3D"
            Expect.equal (Cropping2D().DataFormat, ZeroPadding2D().DataFormat) (DataFormat.ChannelsLast, DataFormat.ChannelsLast) "channels_last"
            Expect.equal (Cropping2D().DefaultNameStem, ZeroPadding2D().DefaultNameStem, UpSampling2D().DefaultNameStem) ("cropping2d", "zero_padding2d", "up_sampling2d") "names"
        }

        test "an int, a symmetric tuple and explicit pairs are the same layer when they mean the same amounts" {
            Expect.equal (Cropping2D(2)) (Cropping2D(((2, 2), (2, 2)))) "int = pairs"
            Expect.equal (Cropping2D((1, 3))) (Cropping2D(((1, 1), (3, 3)))) "(h, w) = ((h, h), (w, w))"
            Expect.equal (ZeroPadding3D((1, 2, 3))) (ZeroPadding3D(((1, 1), (2, 2), (3, 3)))) "3-D symmetric"
            Expect.equal (Cropping1D(2)) (Cropping1D((2, 2))) "1-D int = pair"
            Expect.equal (ZeroPadding2D(1)) (ZeroPadding2D()) "default"
            Expect.equal (UpSampling2D(3)) (UpSampling2D((3, 3))) "size"
            Expect.equal (UpSampling2D(interpolation = "BILINEAR").Interpolation) "bilinear" "lower-cased as Keras does"
            Expect.equal (string (Cropping2D(((1, 2), (3, 4)))).Cropping) "((1, 2), (3, 4))" "printed as Keras does"
        }

        propertyWith pureConfig "Cropping2D output = input minus both sides per axis; ZeroPadding2D adds them; neither has parameters" (Arb.fromGen (sidesCase 200)) (fun c ->
            let (h, w, ch) = c.Input
            let (t, b), (l, r) = c.Sides
            let crop = Cropping2D(sides c, fmt c.ChannelsLast)
            let pad = ZeroPadding2D(sides c, fmt c.ChannelsLast)
            let input = shape2d c.ChannelsLast c.Input
            crop.ComputeOutputShape input = shape2d c.ChannelsLast (h - t - b, w - l - r, ch)
            && pad.ComputeOutputShape input = shape2d c.ChannelsLast (h + t + b, w + l + r, ch)
            && pad.ComputeOutputShape(crop.ComputeOutputShape input) = input
            && crop.ParameterCount input = 0L && pad.ParameterCount input = 0L)

        propertyWith pureConfig "1-D and 3-D cropping/padding and every upsampling scale each axis independently"
            (Arb.fromGen (gen {
                let! amounts = Gen.listOfLength 6 (Gen.choose (0, 20))
                let! sizes = Gen.listOfLength 3 (Gen.choose (1, 6))
                let! extra = Gen.listOfLength 3 (Gen.choose (1, 30))
                let! c = Gen.choose (1, 8)
                return Array.ofList amounts, Array.ofList sizes, Array.ofList extra, c })) (fun (a, s, e, c) ->
            let dims = [| a.[0] + a.[1] + e.[0]; a.[2] + a.[3] + e.[1]; a.[4] + a.[5] + e.[2] |]
            let pairs = SidePairs.FromPairs(struct (a.[0], a.[1]), struct (a.[2], a.[3]), struct (a.[4], a.[5]))
            let input3 = Shape(Array.append dims [| c |])
            let input1 = Shape(dims.[0], c)
            Cropping3D(pairs).ComputeOutputShape input3 = Shape(e.[0], e.[1], e.[2], c)
            && ZeroPadding3D(pairs).ComputeOutputShape(Shape(e.[0], e.[1], e.[2], c)) = input3
            && Cropping1D((a.[0], a.[1])).ComputeOutputShape input1 = Shape(e.[0], c)
            && ZeroPadding1D((a.[0], a.[1])).ComputeOutputShape(Shape(e.[0], c)) = input1
            && UpSampling1D(s.[0]).ComputeOutputShape input1 = Shape(dims.[0] * s.[0], c)
            && UpSampling2D((s.[0], s.[1])).ComputeOutputShape(Shape(dims.[0], dims.[1], c)) = Shape(dims.[0] * s.[0], dims.[1] * s.[1], c)
            && UpSampling3D(IntTuple(s), "channels_first").ComputeOutputShape(Shape(Array.append [| c |] dims)) =
                   Shape(c, dims.[0] * s.[0], dims.[1] * s.[1], dims.[2] * s.[2])
            && UpSampling3D(IntTuple(s)).ParameterCount input3 = 0L)

        test "Keras's docstring and test examples" {
            let check (layer: Layer) (input: Shape) (output: Shape) = Expect.equal (layer.ComputeOutputShape input) output (string layer)
            check (Cropping2D(((2, 2), (4, 4)))) (Shape(28, 28, 3)) (Shape(24, 20, 3))
            check (Cropping3D((2, 4, 2))) (Shape(28, 28, 10, 3)) (Shape(24, 20, 6, 3))
            check (ZeroPadding3D(2)) (Shape(1, 2, 2, 3)) (Shape(5, 6, 6, 3))
            check (ZeroPadding1D(2)) (Shape(2, 3)) (Shape(6, 3))
            check (ZeroPadding2D(1)) (Shape(1, 2, 2)) (Shape(3, 4, 2))
            check (UpSampling3D((2, 2, 2))) (Shape(1, 2, 1, 3)) (Shape(2, 4, 2, 3))
            check (UpSampling2D((1, 2))) (Shape(2, 1, 3)) (Shape(2, 2, 3))
            check (UpSampling1D(2)) (Shape(2, 3)) (Shape(4, 3))
            check (Cropping1D((1, 2))) (Shape(5, 7)) (Shape(2, 7))
            check (Cropping1D(1)) (Shape(5, 7)) (Shape(3, 7))
            check (Cropping2D(((1, 2), (3, 4)), "channels_first")) (Shape(3, 8, 9)) (Shape(3, 5, 2))
        }

        test "bad amounts are rejected at construction naming the layer, the argument and the value" {
            throwsWith<ArgumentException> [ "Cropping2D"; "`cropping` cannot be negative"; "cropping=-1" ] (fun () -> Cropping2D(-1) |> ignore)
            throwsWith<ArgumentException> [ "Cropping3D"; "cannot be negative"; "((1, 1), (0, -2), (1, 1))" ] (fun () ->
                Cropping3D(((1, 1), (0, -2), (1, 1))) |> ignore)
            throwsWith<ArgumentException> [ "Cropping1D"; "cannot be negative"; "(-1, 2)" ] (fun () -> Cropping1D((-1, 2)) |> ignore)
            throwsWith<ArgumentException> [ "ZeroPadding2D"; "`padding` cannot be negative" ] (fun () -> ZeroPadding2D(((0, 0), (-1, 0))) |> ignore)
            throwsWith<ArgumentException> [ "ZeroPadding1D"; "padding"; "(1, 2, 3)" ] (fun () -> ZeroPadding1D((1, 2, 3)) |> ignore)
            throwsWith<ArgumentException> [ "Cropping2D"; "cropping"; "(1, 2, 3)" ] (fun () -> Cropping2D((1, 2, 3)) |> ignore)
            throwsWith<ArgumentException> [ "ZeroPadding3D"; "padding"; "((1, 1), (2, 2))" ] (fun () -> ZeroPadding3D(((1, 1), (2, 2))) |> ignore)
            throwsWith<ArgumentException> [ "UpSampling1D"; "positive integer"; "size=0" ] (fun () -> UpSampling1D(0) |> ignore)
            throwsWith<ArgumentException> [ "UpSampling2D"; "size"; "(0, 2)" ] (fun () -> UpSampling2D((0, 2)) |> ignore)
            throwsWith<ArgumentException> [ "UpSampling2D"; "interpolation"; "'bicubic'" ] (fun () -> UpSampling2D(interpolation = "bicubic") |> ignore)
            throwsWith<ArgumentException> [ "UpSampling3D"; "size"; "(2, 2)" ] (fun () -> UpSampling3D((2, 2)) |> ignore)
        }

        test "Cropping1D and ZeroPadding1D take an integer or exactly 2 values: a 1-tuple is rejected, as Keras's standardize_tuple does" {
            Expect.equal (Cropping1D(IntTuple.Integer 3).Cropping) (IntTuple(3, 3)) "an integer n is (n, n)"
            Expect.equal (ZeroPadding1D(2).Padding) (IntTuple(2, 2)) "the implicit conversion from int is an integer"
            throwsWith<ArgumentException> [ "Cropping1D"; "'cropping'"; "integer or a tuple of 2 integers"; "cropping=(1,)" ] (fun () -> Cropping1D(IntTuple 1) |> ignore)
            throwsWith<ArgumentException> [ "ZeroPadding1D"; "'padding'"; "integer or a tuple of 2 integers"; "padding=(2,)" ] (fun () -> ZeroPadding1D(IntTuple [| 2 |]) |> ignore)
            Expect.equal (IntTuple.Integer 4) (IntTuple 4) "the integer form takes no part in equality"
        }

        test "from a config, [n] is a 1-tuple and is rejected naming its path; n and [a, b] are read" {
            let read (json: string) = LayerConfig.FromJson json
            Expect.equal (read """{"class_name": "Cropping1D", "config": {"cropping": 2}}""") (Cropping1D(2) :> Layer) "an integer"
            Expect.equal (read """{"class_name": "ZeroPadding1D", "config": {"padding": [1, 3]}}""") (ZeroPadding1D((1, 3)) :> Layer) "a pair"
            for cls, key in [ "Cropping1D", "cropping"; "ZeroPadding1D", "padding" ] do
                let e =
                    try read (sprintf """{"class_name": "%s", "config": {"%s": [1]}}""" cls key) |> ignore; failtestf "%s accepted [1]" cls
                    with :? ModelConfigException as e -> e
                Expect.equal e.JsonPath (sprintf "$.config.%s" key) "the path of the value"
                Expect.stringContains e.Message (sprintf "%s=(1,)" key) "the value, as Python prints a 1-tuple"
                Expect.stringContains e.Message cls "the layer"
        }

        test "cropping that leaves nothing is rejected when the model is declared, naming the layer, the shape and the axis" {
            throwsWith<ShapeException> [ "Cropping2D 'cropping2d'"; "(None, 4, 9, 1)"; "axis 1"; "should be smaller than the corresponding spatial dimension"; "((2, 2), (1, 1))" ] (fun () ->
                Sequential(Input(4, 9, 1), Cropping2D(((2, 2), (1, 1)))) |> ignore)
            throwsWith<ShapeException> [ "Cropping1D"; "`cropping` parameter of `Cropping1D` layer must be smaller than the input length"; "(None, 5, 7)"; "axis 1" ] (fun () ->
                Sequential(Input(5, 7), Cropping1D((2, 3))) |> ignore)
            throwsWith<ShapeException> [ "Cropping3D"; "axis 4"; "(None, 2, 3, 3, 4)" ] (fun () ->
                Cropping3D(((0, 0), (0, 0), (2, 2)), "channels_first").ComputeOutputShape(Shape(2, 3, 3, 4)) |> ignore)
            throwsWith<ShapeException> [ "ZeroPadding2D"; "rank 3"; "got rank 2" ] (fun () -> ZeroPadding2D().ComputeOutputShape(Shape(4, 4)) |> ignore)
            throwsWith<ShapeException> [ "UpSampling1D"; "rank 2"; "got rank 3" ] (fun () -> UpSampling1D().ComputeOutputShape(Shape(4, 4, 1)) |> ignore)
        }
    ]

[<Tests>]
let torchLaws =
    testSequenced <| testList "Reshaping layers (TorchSharp)" [
        test "Keras's cropping1d_test: exact slices of the input" {
            torchReady 31
            use x = torch.rand(3L, 5L, 7L)
            for cropping, start, stop in [ (1, 2), 1, 3; (1, 1), 1, 4; (0, 1), 0, 4; (1, 0), 1, 5 ] do
                let _, y = run (Cropping1D(cropping)) x
                use y = y
                use expected = x.narrow(1L, int64 start, int64 (stop - start))
                Expect.isTrue (sameTensor y expected) (sprintf "cropping=%A" cropping)
        }

        test "Keras's docstring values: ZeroPadding1D(2), ZeroPadding2D(1), UpSampling1D(2), UpSampling2D((1, 2))" {
            torchReady 32
            use x1 = torch.arange(12.0f).reshape(2L, 2L, 3L)
            let _, padded = run (ZeroPadding1D(2)) x1
            use padded = padded
            let z = [ 0.0f; 0.0f; 0.0f ]
            Expect.equal (values padded |> List.ofArray)
                (z @ z @ [ 0.0f; 1.0f; 2.0f; 3.0f; 4.0f; 5.0f ] @ z @ z @ z @ z @ [ 6.0f; 7.0f; 8.0f; 9.0f; 10.0f; 11.0f ] @ z @ z) "ZeroPadding1D"
            use x2 = torch.arange(4.0f).reshape(1L, 1L, 2L, 2L)
            let _, padded2 = run (ZeroPadding2D(1)) x2
            use padded2 = padded2
            Expect.equal (values padded2 |> List.ofArray)
                ([ for _ in 1 .. 4 -> [ 0.0f; 0.0f ] ] @ [ [ 0.0f; 0.0f ]; [ 0.0f; 1.0f ]; [ 2.0f; 3.0f ]; [ 0.0f; 0.0f ] ] @ [ for _ in 1 .. 4 -> [ 0.0f; 0.0f ] ] |> List.concat)
                "ZeroPadding2D"
            let _, up1 = run (UpSampling1D(2)) x1
            use up1 = up1
            Expect.equal (values up1 |> List.ofArray)
                ([ [ 0; 1; 2 ]; [ 0; 1; 2 ]; [ 3; 4; 5 ]; [ 3; 4; 5 ]; [ 6; 7; 8 ]; [ 6; 7; 8 ]; [ 9; 10; 11 ]; [ 9; 10; 11 ] ] |> List.concat |> List.map float32) "UpSampling1D"
            use x3 = torch.arange(12.0f).reshape(2L, 2L, 1L, 3L)
            let _, up2 = run (UpSampling2D((1, 2))) x3
            use up2 = up2
            Expect.equal (values up2 |> List.ofArray)
                ([ [ 0; 1; 2 ]; [ 0; 1; 2 ]; [ 3; 4; 5 ]; [ 3; 4; 5 ]; [ 6; 7; 8 ]; [ 6; 7; 8 ]; [ 9; 10; 11 ]; [ 9; 10; 11 ] ] |> List.concat |> List.map float32) "UpSampling2D"
        }

        propertyWith torchConfig "Cropping2D ∘ ZeroPadding2D by the same amounts is the identity on real tensors; the padding is zeros" (Arb.fromGen (sidesCase 4)) (fun c ->
            torchReady 33
            let input = shape2d c.ChannelsLast c.Input
            let model = Sequential(Input(input), ZeroPadding2D(sides c, fmt c.ChannelsLast), Cropping2D(sides c, fmt c.ChannelsLast))
            let padOnly = Sequential(Input(input), ZeroPadding2D(sides c, fmt c.ChannelsLast))
            use built = BuiltNetwork.Build(model)
            use builtPad = BuiltNetwork.Build(padOnly)
            use x = torch.randn(input.WithBatch 2L)
            use y = built.forward x
            use padded = builtPad.forward x
            y.shape = x.shape && sameTensor y x
            && padded.shape = padOnly.OutputShape.WithBatch 2L
            && abs ((padded.abs().sum().item<float32>()) - (x.abs().sum().item<float32>())) <= 1e-3f * (1.0f + x.abs().sum().item<float32>()))

        propertyWith torchConfig "every reshaping layer's forward shape = its inferred shape (1-D, 2-D, 3-D, both layouts)"
            (Arb.fromGen (gen {
                let! a = Gen.listOfLength 6 (Gen.choose (0, 2))
                let! s = Gen.listOfLength 3 (Gen.choose (1, 3))
                let! channelsLast = Gen.elements [ true; false ]
                return Array.ofList a, Array.ofList s, channelsLast })) (fun (a, s, channelsLast) ->
            torchReady 34
            let f = fmt channelsLast
            let pairs2 = SidePairs.FromPairs(struct (a.[0], a.[1]), struct (a.[2], a.[3]))
            let pairs3 = SidePairs.FromPairs(struct (a.[0], a.[1]), struct (a.[2], a.[3]), struct (a.[4], a.[5]))
            let spatial rank = Array.init rank (fun i -> a.[2 * i] + a.[2 * i + 1] + 2 + i)
            let withChannels (dims: int[]) = if channelsLast then Array.append dims [| 3 |] else Array.append [| 3 |] dims
            let cases : (Layer * Shape) list =
                [ Cropping1D((a.[0], a.[1])), Shape(Array.append (spatial 1) [| 3 |])
                  ZeroPadding1D((a.[0], a.[1]), f), Shape(withChannels (spatial 1))
                  UpSampling1D(s.[0]), Shape(Array.append (spatial 1) [| 3 |])
                  Cropping2D(pairs2, f), Shape(withChannels (spatial 2))
                  ZeroPadding2D(pairs2, f), Shape(withChannels (spatial 2))
                  UpSampling2D((s.[0], s.[1]), f), Shape(withChannels (spatial 2))
                  UpSampling2D((s.[0], s.[1]), f, "bilinear"), Shape(withChannels (spatial 2))
                  Cropping3D(pairs3, f), Shape(withChannels (spatial 3))
                  ZeroPadding3D(pairs3, f), Shape(withChannels (spatial 3))
                  UpSampling3D(IntTuple(Array.ofList [ s.[0]; s.[1]; s.[2] ]), f), Shape(withChannels (spatial 3)) ]
            cases |> List.forall (fun (layer, input) ->
                use x = torch.randn(input.WithBatch 2L)
                let model, y = run layer x
                use y = y
                y.shape = model.OutputShape.WithBatch 2L))

        propertyWith torchConfig "UpSampling2D nearest repeats rows and columns; bilinear is TensorFlow's half-pixel resize"
            (Arb.fromGen (gen {
                let! h = Gen.choose (1, 6)
                let! w = Gen.choose (1, 6)
                let! fh = Gen.choose (1, 4)
                let! fw = Gen.choose (1, 4)
                let! c = Gen.choose (1, 3)
                return h, w, fh, fw, c })) (fun (h, w, fh, fw, c) ->
            torchReady 35
            use x = torch.randn(2L, int64 h, int64 w, int64 c)
            let xs = toArray4 x
            let _, nearest = run (UpSampling2D((fh, fw))) x
            use nearest = nearest
            let _, bilinear = run (UpSampling2D((fh, fw), interpolation = "bilinear")) x
            use bilinear = bilinear
            let expectedNearest = Array4D.init 2 (h * fh) (w * fw) c (fun b i j ch -> xs.[b, i / fh, j / fw, ch])
            let expectedBilinear = naiveBilinear xs (fh, fw)
            Seq.forall2 (fun (a: float32) e -> a = e) (Seq.cast<float32> (toArray4 nearest)) (Seq.cast<float32> expectedNearest)
            && Seq.forall2 (fun (a: float32) (e: float32) -> abs (a - e) <= 1e-5f * (1.0f + abs e))
                   (Seq.cast<float32> (toArray4 bilinear)) (Seq.cast<float32> expectedBilinear))

        test "channels_first equals channels_last under transposition (cropping, padding, bilinear upsampling, inside one model)" {
            torchReady 36
            let last = Sequential(Input(7, 6, 2), ZeroPadding2D(((1, 0), (2, 3))), Cropping2D(((0, 2), (1, 1))), UpSampling2D((2, 3), interpolation = "bilinear"), UpSampling2D(2))
            let first =
                Sequential(Input(2, 7, 6), ZeroPadding2D(((1, 0), (2, 3)), "channels_first"), Cropping2D(((0, 2), (1, 1)), "channels_first"),
                           UpSampling2D((2, 3), "channels_first", "bilinear"), UpSampling2D(2, "channels_first"))
            use a = BuiltNetwork.Build(last)
            use b = BuiltNetwork.Build(first)
            use x = torch.randn(2L, 7L, 6L, 2L)
            use ya = a.forward x
            use xb = x.permute(0L, 3L, 1L, 2L)
            use yb = b.forward xb
            use ybLast = yb.permute(0L, 2L, 3L, 1L)
            Expect.equal ya.shape (last.OutputShape.WithBatch 2L) "shape"
            Expect.isTrue (ya.allclose(ybLast, 1e-5, 1e-6)) "same values"
        }

        test "3-D cropping and padding move exactly the requested elements; UpSampling3D repeats along each axis" {
            torchReady 37
            use x = torch.randn([| 1L; 4L; 5L; 6L; 2L |])
            let _, cropped = run (Cropping3D(((1, 0), (2, 1), (0, 3)))) x
            use cropped = cropped
            use expected = x.narrow(1L, 1L, 3L).narrow(2L, 2L, 2L).narrow(3L, 0L, 3L)
            Expect.isTrue (sameTensor cropped expected) "cropped"
            let _, padded = run (ZeroPadding3D(((1, 0), (2, 1), (0, 3)))) x
            use padded = padded
            use inner = padded.narrow(1L, 1L, 4L).narrow(2L, 2L, 5L).narrow(3L, 0L, 6L)
            Expect.isTrue (sameTensor inner x) "interior"
            Expect.floatClose Accuracy.medium (float (padded.abs().sum().item<float32>())) (float (x.abs().sum().item<float32>())) "zeros elsewhere"
            let _, up = run (UpSampling3D((2, 1, 3))) x
            use up = up
            use expectedUp = x.repeat_interleave(2L, dim = 1L).repeat_interleave(3L, dim = 3L)
            Expect.isTrue (sameTensor up expectedUp) "repeats"
        }
    ]

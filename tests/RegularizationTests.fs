/// The noise layers (SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout), UnitNormalization and
/// GroupNormalization against Keras 3's formulas: naive float64 references (arrays and loops) for the normalisations,
/// the structure and statistics of the training-time noise, and the identity at inference.
module Functional.Tests.RegularizationTests

open System
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

type private G = Functional.Models.Graph

let private doubles (t: torch.Tensor) = t.contiguous().cpu().to_type(torch.ScalarType.Float64).data<float>().ToArray()
let private float64 f = using (DTypePolicy.Use(DTypePolicy.Float64)) (fun _ -> f ())

/// A float64 network of one layer on a per-sample shape.
let private net64 (make: unit -> Layer) (dims: int list) =
    float64 (fun () ->
        let x = G.Input(Array.ofList dims)
        BuiltNetwork.Build(Model(x, make().Call(x))))

let private close (tol: float) (a: float[]) (e: float[]) = a.Length = e.Length && Array.forall2 (fun (x: float) y -> abs (x - y) <= tol * (1.0 + abs y)) a e

let tests =
    testList "Regularization and group/unit normalization" [
        test "UnitNormalization: x / ‖x‖ over the last axis, equal to a naive loop" {
            torchReady 1
            use net = net64 (fun () -> UnitNormalization() :> Layer) [ 3; 4 ]
            let xs = Array.init 24 (fun i -> float ((i * 7) % 11) - 5.0)
            use y = net.Predict(torch.tensor(xs).reshape(2L, 3L, 4L))
            let expected = Array.init 24 (fun i -> let row = i / 4 in xs.[i] / sqrt (Seq.sum (seq { for k in 0 .. 3 -> xs.[row * 4 + k] ** 2.0 })))
            Expect.isTrue (close 1e-12 (doubles y) expected) "unit rows"
            throwsWith<ShapeException> [ "UnitNormalization"; "axis 3" ] (fun () -> UnitNormalization(IntTuple(3)).ComputeOutputShape(Shape 4) |> ignore)
        }

        test "GroupNormalization: moments per group over the group's channels and the steps, then gamma and beta per channel" {
            torchReady 2
            let b, t, c, groups = 2, 3, 6, 2
            let make () = GroupNormalization(groups, gammaInitializer = RandomNormal(seed = 1), betaInitializer = RandomNormal(seed = 2), Name = "gn") :> Layer
            use net = net64 make [ t; c ]
            let gen = Random(4)
            let xs = Array.init (b * t * c) (fun _ -> gen.NextDouble() * 4.0 - 2.0)
            use y = net.Predict(torch.tensor(xs).reshape(int64 b, int64 t, int64 c))
            let w name = (net.Weights |> Seq.find (fun w -> w.Name = name)).KerasView() |> doubles
            let gamma, beta = w "gn/gamma", w "gn/beta"
            let per = c / groups
            let expected =
                Array.init (b * t * c) (fun i ->
                    let bi, ci = i / (t * c), i % c
                    let g = ci / per
                    let members = [| for ti in 0 .. t - 1 do for k in g * per .. g * per + per - 1 -> xs.[(bi * t + ti) * c + k] |]
                    let mean = Array.average members
                    let var = members |> Array.averageBy (fun v -> (v - mean) ** 2.0)
                    (xs.[i] - mean) / sqrt (var + 1e-3) * gamma.[ci] + beta.[ci])
            Expect.isTrue (close 1e-10 (doubles y) expected) "group normalisation"
            Expect.equal (GroupNormalization(3).Parameters(Shape(5, 6)) |> Seq.map (fun p -> p.Name) |> List.ofSeq) [ "gamma"; "beta" ] "Keras's order"
            throwsWith<ShapeException> [ "GroupNormalization"; "cannot be more than the number of channels" ] (fun () -> GroupNormalization(8).ComputeOutputShape(Shape(3, 4)) |> ignore)
            throwsWith<ShapeException> [ "GroupNormalization"; "Number of groups (4)" ] (fun () -> GroupNormalization(4).ComputeOutputShape(Shape(3, 6)) |> ignore)
            throwsWith<ArgumentException> [ "GroupNormalization"; "groups"; "0" ] (fun () -> GroupNormalization(0) |> ignore)
        }

        test "noise layers are the identity at inference" {
            torchReady 3
            for make in [ (fun () -> SpatialDropout1D(0.5) :> Layer); (fun () -> GaussianNoise(0.5) :> Layer)
                          (fun () -> GaussianDropout(0.5) :> Layer); (fun () -> AlphaDropout(0.5) :> Layer) ] do
                use net = net64 make [ 4; 3 ]
                use x = torch.randn(2L, 4L, 3L, dtype = torch.ScalarType.Float64)
                use y = net.Predict x
                Expect.isTrue (y.allclose(x, 0.0, 0.0)) (sprintf "%s at inference" (make ()).ClassName)
        }

        test "SpatialDropout1D/2D drop whole channels in training, scaling the rest by 1/(1 − rate)" {
            torchReady 4
            let check (make: unit -> Layer) (dims: int list) (channelAxis: int) =
                use net = net64 make dims
                use x = torch.rand(Array.ofList (8L :: (dims |> List.map int64)), dtype = torch.ScalarType.Float64) + 1.0
                use y = net.Forward([| x |], ForwardContext(true)).[0]
                use ratio = (y / x).movedim([| int64 channelAxis |], [| 1L |]).reshape(8L, int64 dims.[channelAxis - 1], -1L)
                let r = doubles ratio
                let per = r.Length / (8 * dims.[channelAxis - 1])
                let columns = r |> Array.chunkBySize per
                Expect.isTrue (columns |> Array.forall (fun col -> col |> Array.forall (fun v -> abs (v - col.[0]) < 1e-12))) "one draw per sample and channel"
                Expect.isTrue (columns |> Array.forall (fun col -> abs col.[0] < 1e-12 || abs (col.[0] - 2.0) < 1e-12)) "dropped, or scaled by 1/(1 − 0.5)"
                Expect.isTrue (columns |> Array.exists (fun col -> abs col.[0] < 1e-12) && columns |> Array.exists (fun col -> col.[0] > 1.0)) "some of each"
            check (fun () -> SpatialDropout1D(0.5, seed = 1) :> Layer) [ 5; 6 ] 2
            check (fun () -> SpatialDropout2D(0.5, seed = 1) :> Layer) [ 3; 4; 6 ] 3
            check (fun () -> SpatialDropout2D(0.5, DataFormat.ChannelsFirst, seed = 1) :> Layer) [ 6; 3; 4 ] 1
            throwsWith<ShapeException> [ "SpatialDropout1D"; "ndim=3" ] (fun () -> SpatialDropout1D(0.5).ComputeOutputShape(Shape(3, 4, 5)) |> ignore)
            throwsWith<ArgumentException> [ "SpatialDropout2D"; "rate"; "1.5" ] (fun () -> SpatialDropout2D(1.5) |> ignore)
        }

        test "GaussianNoise adds N(0, stddev²), GaussianDropout multiplies by N(1, rate/(1 − rate)), in training" {
            torchReady 5
            let stats (make: unit -> Layer) (x: torch.Tensor) (f: torch.Tensor -> torch.Tensor -> torch.Tensor) =
                use net = net64 make [ 200; 100 ]
                use y = net.Forward([| x |], ForwardContext(true)).[0]
                use noise = f y x
                noise.mean().item<float>(), noise.std().item<float>()
            use x = torch.rand(4L, 200L, 100L, dtype = torch.ScalarType.Float64) + 0.5
            let m, s = stats (fun () -> GaussianNoise(0.3) :> Layer) x (fun y x -> y - x)
            Expect.isLessThan (abs m) 0.01 "noise mean 0"
            Expect.isLessThan (abs (s - 0.3)) 0.01 "noise stddev 0.3"
            let m2, s2 = stats (fun () -> GaussianDropout(0.2) :> Layer) x (fun y x -> y / x)
            Expect.isLessThan (abs (m2 - 1.0)) 0.01 "factor mean 1"
            Expect.isLessThan (abs (s2 - sqrt (0.2 / 0.8))) 0.01 "factor stddev √(rate/(1 − rate))"
            throwsWith<ArgumentException> [ "GaussianNoise"; "stddev"; "2" ] (fun () -> GaussianNoise(2.0) |> ignore)
        }

        test "AlphaDropout: each output is a·x + b (kept) or a·α' + b (dropped), and keeps mean 0 and variance 1" {
            torchReady 6
            let rate = 0.2
            use net = net64 (fun () -> AlphaDropout(rate, seed = 3) :> Layer) [ 200; 100 ]
            use x = torch.randn(4L, 200L, 100L, dtype = torch.ScalarType.Float64)
            use y = net.Forward([| x |], ForwardContext(true)).[0]
            let alphaP = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
            let a = ((1.0 - rate) * (1.0 + rate * alphaP * alphaP)) ** -0.5
            let b = -a * alphaP * rate
            let xs, ys = doubles x, doubles y
            let kept = Array.map2 (fun (xv: float) yv -> abs (yv - (a * xv + b)) < 1e-9) xs ys
            let dropped = ys |> Array.map (fun yv -> abs (yv - (a * alphaP + b)) < 1e-9)
            Expect.isTrue (Array.forall2 (||) kept dropped) "kept or dropped, as Keras's affine map"
            let fraction = (dropped |> Array.filter id |> Array.length |> float) / float ys.Length
            Expect.isLessThan (abs (fraction - rate)) 0.01 "the rate of dropped values"
            // On SELU-normalised inputs (here standard normal), the output keeps mean ≈ 0 and variance ≈ 1.
            Expect.isLessThan (abs (Array.average ys)) 0.02 "mean kept"
        }

        test "configs round-trip with Keras's keys" {
            for layer in [ SpatialDropout2D(0.3, DataFormat.ChannelsFirst, seed = 2) :> Layer; GaussianNoise(0.1) :> Layer; GaussianDropout(0.4) :> Layer
                           AlphaDropout(0.1, IntTuple(-1, 1, 3)) :> Layer; UnitNormalization(IntTuple(1, 2)) :> Layer; GroupNormalization(4, epsilon = 1e-5) :> Layer ] do
                Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson layer)) layer (sprintf "%s round trip" layer.ClassName)
            let json = LayerConfig.ToJson(GroupNormalization(), false)
            for key in [ "\"groups\":32"; "\"axis\":-1"; "\"epsilon\":0.001"; "\"center\":true"; "\"scale\":true" ] do Expect.stringContains json key key
        }
    ]

[<Tests>]
let all = tests

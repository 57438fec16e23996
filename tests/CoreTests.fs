/// Dense, Flatten, Activation, Dropout: parameter laws, shapes, values against naive code, construction errors.
module Functional.Tests.CoreTests

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

let denseCase maxIn maxUnits =
    gen {
        let! input = Gen.choose (1, maxIn)
        let! units = Gen.choose (1, maxUnits)
        let! useBias = Gen.elements [ true; false ]
        let! lead = Gen.choose (0, 2)
        return input, units, useBias, lead
    } |> Arb.fromGen

[<Tests>]
let tests =
    testList "Core layers" [
        propertyWith pureConfig "Dense params = in·units + units (in·units without bias); output (…, units)" (denseCase 100000 100000) (fun (i, u, b, lead) ->
            let d = Dense(u, useBias = b)
            let shape = Shape(Array.append (Array.create lead 3) [| i |])
            d.ParameterCount shape = int64 i * int64 u + (if b then int64 u else 0L)
            && d.ComputeOutputShape shape = Shape(Array.append (Array.create lead 3) [| u |]))

        propertyWith pureConfig "Flatten gives one axis of the product of the dimensions" (Arb.fromGen (Gen.listOfLength 3 (Gen.choose (1, 50)))) (fun dims ->
            Flatten().ComputeOutputShape(Shape(dims)) = Shape(List.reduce (*) dims))

        test "Dense, Dropout and Activation reject bad arguments naming them" {
            throwsWith<ArgumentException> [ "Dense"; "units=0" ] (fun () -> Dense(0) |> ignore)
            throwsWith<ArgumentException> [ "Dropout"; "rate=1.5" ] (fun () -> Dropout(1.5) |> ignore)
            throwsWith<ArgumentException> [ "activation"; "'relux'" ] (fun () -> Activation(ActivationFunction "relux") |> ignore)
        }

        test "activation names are normalised as Keras does" {
            Expect.equal (ActivationFunction "swish").Name "silu" "swish is silu"
            Expect.equal (ActivationFunction null).Name "linear" "None is linear"
            Expect.equal (ActivationFunction "ReLU") ActivationFunction.Relu "case-insensitive"
        }

        testSequenced <| propertyWith torchConfig "built Dense computes x·kernel + bias (naive), Σ numel = counted" (denseCase 12 9) (fun (i, u, b, _) ->
            torchReady 5
            let model = Sequential(Input(i), Dense(u, useBias = b))
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(3L, int64 i)
            use y = built.forward x
            let w = built.Weights |> Seq.map (fun w -> w.Name, w.Parameter.detach().cpu()) |> Map.ofSeq
            let kernel = w.["dense/kernel"].data<float32>().ToArray()   // PyTorch layout (units, in)
            let bias = w |> Map.tryFind "dense/bias" |> Option.map (fun t -> t.data<float32>().ToArray())
            let xs = x.data<float32>().ToArray()
            let ys = y.data<float32>().ToArray()
            let numel = built.parameters() |> Seq.sumBy (fun p -> p.numel())
            numel = model.ParameterCount
            && Seq.forall (fun (r, o) ->
                let e = (Seq.sum (seq { for k in 0 .. i - 1 -> xs.[r * i + k] * kernel.[o * i + k] })) + (match bias with Some bs -> bs.[o] | None -> 0.0f)
                abs (ys.[r * u + o] - e) <= 1e-4f * (1.0f + abs e)) [ for r in 0 .. 2 do for o in 0 .. u - 1 -> r, o ])

        testSequenced <| test "Glorot uniform kernels stay inside ±sqrt(6/(fan_in+fan_out)) with Keras's conv fans" {
            torchReady 6
            use built = BuiltNetwork.Build(Sequential(Input(16, 16, 8), Conv2D(32, 5)))
            let kernel = (built.Weights |> Seq.head).Parameter
            let limit = sqrt (6.0 / float (5 * 5 * 8 + 5 * 5 * 32))
            Expect.isLessThanOrEqual (kernel.abs().max().item<float32>() |> float) limit "inside the limit"
            Expect.isGreaterThan (kernel.abs().max().item<float32>() |> float) (0.9 * limit) "and uses the range"
        }

        testSequenced <| test "Dropout is the identity at inference and drops about `rate` in training, scaling the rest" {
            torchReady 7
            use built = BuiltNetwork.Build(Sequential(Input(10000), Dropout(0.3)))
            use x = torch.ones(1L, 10000L)
            use y = built.forward x
            Expect.isTrue ((y.eq x).all().item<bool>()) "identity in eval mode"
            built.train()
            use z = built.forward x
            let kept = z.count_nonzero().item<int64>() |> float
            Expect.floatClose { absolute = 0.03; relative = 0.0 } (kept / 10000.0) 0.7 "keeps about 70%"
            Expect.floatClose Accuracy.medium (z.max().item<float32>() |> float) (1.0 / 0.7) "scales by 1/(1-rate)"
        }
    ]

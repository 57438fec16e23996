/// Optimizers: two updates of each against Keras's update formula written naively per element; clipping; schedules.
module Functional.Tests.OptimizerTests

open System
open Expecto
open TorchSharp
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Tests.Support
open Functional.Tests.LossTests

let p0 = [| 0.5; -1.0; 2.0 |]
let grads = [ [| 0.1; -0.2; 0.3 |]; [| -0.4; 0.05; 0.25 |] ]

/// Runs the optimizer over `grads` on a parameter starting at p0; returns the values after each step.
let run (opt: Optimizer) (gs: float[] list) =
    let p = new TorchSharp.Modules.Parameter(torch.tensor(p0 |> Array.map float32))
    opt.Build [ p ]
    [ for g in gs do
        use gt = torch.tensor(g |> Array.map float32)
        opt.Apply [| gt |]
        yield p.detach().to_type(torch.ScalarType.Float64).data<float>().ToArray() ]

let expectSteps (actual: float[] list) (expected: float[] list) what =
    List.iteri2 (fun s (a: float[]) (e: float[]) ->
        Array.iteri2 (fun i x y -> close 1e-6 x y (sprintf "%s step %d [%d]" what (s + 1) i)) a e) actual expected

/// A naive per-element optimizer: state per element, one update function.
let naive (init: unit -> 'state) (update: int -> float -> float -> 'state -> float * 'state) (gs: float[] list) =
    let mutable w = Array.copy p0
    let mutable st = Array.init p0.Length (fun _ -> init ())
    [ for t, g in List.indexed gs do
        let step = t + 1
        let next = Array.init w.Length (fun i -> update step g.[i] w.[i] st.[i])
        w <- next |> Array.map fst
        st <- next |> Array.map snd
        yield Array.copy w ]

[<Tests>]
let tests =
    testSequenced <| testList "Optimizers" [
        test "SGD: plain, momentum (m ← μm − lr·g; w ← w + m) and Nesterov (w ← w + μm − lr·g)" {
            torchReady 3
            let lr = 0.01
            expectSteps (run (SGD()) grads) (naive (fun () -> ()) (fun _ g w () -> w - lr * g, ()) grads) "sgd"
            let mu = 0.9
            let momentum _ g w m = let m = mu * m - lr * g in w + m, m
            expectSteps (run (SGD(momentum = 0.9)) grads) (naive (fun () -> 0.0) momentum grads) "momentum"
            let nesterov _ g w m = let m = mu * m - lr * g in w + mu * m - lr * g, m
            expectSteps (run (SGD(momentum = 0.9, nesterov = true)) grads) (naive (fun () -> 0.0) nesterov grads) "nesterov"
        }

        test "RMSprop: ε inside the square root, rho 0.9; momentum and centered variants" {
            torchReady 3
            let lr, rho, eps = 0.001, 0.9, 1e-7
            let plain _ g w v = let v = rho * v + (1.0 - rho) * g * g in w - lr * g / sqrt (v + eps), v
            expectSteps (run (RMSprop()) grads) (naive (fun () -> 0.0) plain grads) "rmsprop"
            let withMomentum _ g w (v, m) =
                let v = rho * v + (1.0 - rho) * g * g
                let m = 0.5 * m + lr * g / sqrt (v + eps)
                w - m, (v, m)
            expectSteps (run (RMSprop(momentum = 0.5)) grads) (naive (fun () -> 0.0, 0.0) withMomentum grads) "momentum"
            let centered _ g w (v, a) =
                let v = rho * v + (1.0 - rho) * g * g
                let a = rho * a + (1.0 - rho) * g
                w - lr * g / sqrt (v - a * a + eps), (v, a)
            expectSteps (run (RMSprop(centered = true)) grads) (naive (fun () -> 0.0, 0.0) centered grads) "centered"
        }

        test "Adagrad: accumulator starts at 0.1, ε inside the square root" {
            torchReady 3
            let lr, eps = 0.001, 1e-7
            let upd _ g w a = let a = a + g * g in w - lr * g / sqrt (a + eps), a
            expectSteps (run (Adagrad()) grads) (naive (fun () -> 0.1) upd grads) "adagrad"
        }

        test "Adadelta: lr 0.001, rho 0.95, Δ = −sqrt(D + ε)/sqrt(G + ε)·g" {
            torchReady 3
            let lr, rho, eps = 0.001, 0.95, 1e-7
            let upd _ g w (acc, accDelta) =
                let acc = rho * acc + (1.0 - rho) * g * g
                let delta = -(sqrt (accDelta + eps) * g / sqrt (acc + eps))
                let accDelta = rho * accDelta + (1.0 - rho) * delta * delta
                w + lr * delta, (acc, accDelta)
            expectSteps (run (Adadelta()) grads) (naive (fun () -> 0.0, 0.0) upd grads) "adadelta"
        }

        test "Adam: Keras's ε placement (ε added to sqrt(v), bias correction folded into α); amsgrad" {
            torchReady 3
            let lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
            let upd t g w (m, v) =
                let m = m + (g - m) * (1.0 - b1)
                let v = v + (g * g - v) * (1.0 - b2)
                let alpha = lr * sqrt (1.0 - b2 ** float t) / (1.0 - b1 ** float t)
                w - m * alpha / (sqrt v + eps), (m, v)
            expectSteps (run (Adam()) grads) (naive (fun () -> 0.0, 0.0) upd grads) "adam"
            let ams t g w (m, v, vh) =
                let m = m + (g - m) * (1.0 - b1)
                let v = v + (g * g - v) * (1.0 - b2)
                let vh = max vh v
                let alpha = lr * sqrt (1.0 - b2 ** float t) / (1.0 - b1 ** float t)
                w - m * alpha / (sqrt vh + eps), (m, v, vh)
            // Gradients that shrink make v fall below its maximum, so amsgrad differs from Adam.
            let shrinking = [ [| 1.0; -2.0; 3.0 |]; [| 0.01; 0.01; 0.01 |]; [| 0.01; 0.02; 0.03 |] ]
            expectSteps (run (Adam(amsgrad = true)) shrinking) (naive (fun () -> 0.0, 0.0, 0.0) ams shrinking) "amsgrad"
            // Keras's placement really differs from PyTorch's for a small v: a large ε makes it visible.
            let bigEps = 0.1
            let keras = run (Adam(epsilon = bigEps)) [ grads.Head ]
            let pytorch =
                p0 |> Array.mapi (fun i w ->
                    let g = grads.Head.[i]
                    let m, v = (1.0 - b1) * g, (1.0 - b2) * g * g
                    w - lr * (m / (1.0 - b1)) / (sqrt (v / (1.0 - b2)) + bigEps))
            Expect.isGreaterThan (abs (keras.Head.[0] - pytorch.[0])) 1e-4 "not PyTorch's formula"
        }

        test "Adamax: u ← max(β₂u, |g|); w ← w − lr·m/((1−β₁ᵗ)(u + ε))" {
            torchReady 3
            let lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
            let upd t g w (m, u) =
                let m = m + (g - m) * (1.0 - b1)
                let u = max (b2 * u) (abs g)
                w - lr * m / ((1.0 - b1 ** float t) * (u + eps)), (m, u)
            expectSteps (run (Adamax()) grads) (naive (fun () -> 0.0, 0.0) upd grads) "adamax"
        }

        test "Nadam: Keras's momentum schedule μₜ = β₁(1 − ½·0.96ᵗ) and its running product" {
            torchReady 3
            let lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
            let mutable uProduct = 1.0
            let mutable w = Array.copy p0
            let m = Array.zeroCreate 3
            let v = Array.zeroCreate 3
            let expected =
                [ for t, g in List.indexed grads do
                    let t = float (t + 1)
                    let uT = b1 * (1.0 - 0.5 * 0.96 ** t)
                    let uT1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1.0))
                    uProduct <- uProduct * uT
                    let uProductT1 = uProduct * uT1
                    for i in 0 .. 2 do
                        m.[i] <- m.[i] + (g.[i] - m.[i]) * (1.0 - b1)
                        v.[i] <- v.[i] + (g.[i] * g.[i] - v.[i]) * (1.0 - b2)
                        let mHat = uT1 * m.[i] / (1.0 - uProductT1) + (1.0 - uT) * g.[i] / (1.0 - uProduct)
                        let vHat = v.[i] / (1.0 - b2 ** t)
                        w.[i] <- w.[i] - lr * mHat / (sqrt vHat + eps)
                    yield Array.copy w ]
            expectSteps (run (Nadam()) grads) expected "nadam"
        }

        test "Keras's defaults: learning rates, epsilons, rho, initial accumulator; names resolve" {
            let adam = Adam()
            Expect.equal (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon) (0.001, 0.9, 0.999, 1e-7) "adam"
            Expect.equal ((SGD()).LearningRate) 0.01 "sgd"
            let rms = RMSprop()
            Expect.equal (rms.Rho, rms.Epsilon, rms.Momentum) (0.9, 1e-7, 0.0) "rmsprop"
            Expect.equal ((Adagrad()).InitialAccumulatorValue) 0.1 "adagrad"
            let ada = Adadelta()
            Expect.equal (ada.LearningRate, ada.Rho, ada.Epsilon) (0.001, 0.95, 1e-7) "adadelta"
            for name, ty in [ "sgd", typeof<SGD>; "RMSprop", typeof<RMSprop>; "adagrad", typeof<Adagrad>; "adadelta", typeof<Adadelta>
                              "adam", typeof<Adam>; "adamax", typeof<Adamax>; "nadam", typeof<Nadam>; "adamw", typeof<AdamW> ] do
                Expect.equal ((Optimizers.Get name).GetType()) ty name
            throwsWith<ArgumentException> [ "Could not interpret optimizer identifier"; "adamm" ] (fun () -> Optimizers.Get "adamm" |> ignore)
            throwsWith<ArgumentException> [ "Only one of `clipnorm`, `clipvalue` and `global_clipnorm`" ] (fun () ->
                Adam(clipNorm = Nullable 1.0, clipValue = Nullable 0.5) |> ignore)
            throwsWith<ArgumentException> [ "momentum"; "1.5" ] (fun () -> SGD(momentum = 1.5) |> ignore)
        }

        test "clipnorm, clipvalue and global_clipnorm transform gradients as Keras does" {
            torchReady 3
            let g = [ [| 3.0; 4.0; 0.0 |] ]   // ‖g‖ = 5
            let lr = 0.01
            // clipnorm 1: g · 1/5.
            expectSteps (run (SGD(clipNorm = Nullable 1.0)) g) [ p0 |> Array.mapi (fun i w -> w - lr * g.Head.[i] / 5.0) ] "clipnorm"
            // clipnorm larger than the norm: unchanged.
            expectSteps (run (SGD(clipNorm = Nullable 10.0)) g) [ p0 |> Array.mapi (fun i w -> w - lr * g.Head.[i]) ] "clipnorm no-op"
            // clipvalue 2: elementwise clamp.
            expectSteps (run (SGD(clipValue = Nullable 2.0)) g) [ p0 |> Array.mapi (fun i w -> w - lr * (max -2.0 (min 2.0 g.Head.[i]))) ] "clipvalue"
            // global_clipnorm over two variables: norm sqrt(5² + 12²) = 13.
            let a = new TorchSharp.Modules.Parameter(torch.zeros(2L))
            let b = new TorchSharp.Modules.Parameter(torch.zeros(1L))
            let opt = SGD(learningRate = 1.0, globalClipNorm = Nullable 1.0)
            opt.Build [ a; b ]
            opt.Apply [| torch.tensor([| 3.0f; 4.0f |]); torch.tensor([| 12.0f |]) |]
            let got = Array.append (a.detach().data<float32>().ToArray()) (b.detach().data<float32>().ToArray()) |> Array.map float
            Array.iteri2 (fun i x y -> close 1e-6 x y (sprintf "global %d" i)) got [| -3.0 / 13.0; -4.0 / 13.0; -12.0 / 13.0 |]
        }

        test "learning-rate schedules: exponential, piecewise constant and cosine, evaluated at the step count" {
            let e = ExponentialDecay(0.1, 10L, 0.5)
            close 1e-12 (e.At 0L) 0.1 "start"
            close 1e-12 (e.At 5L) (0.1 * 0.5 ** 0.5) "continuous"
            close 1e-12 (ExponentialDecay(0.1, 10L, 0.5, staircase = true).At 15L) 0.05 "staircase"
            let p = PiecewiseConstantDecay([ 100L; 200L ], [ 1.0; 0.5; 0.1 ])
            Expect.equal [ p.At 0L; p.At 100L; p.At 101L; p.At 200L; p.At 201L ] [ 1.0; 1.0; 0.5; 0.5; 0.1 ] "piecewise"
            throwsWith<ArgumentException> [ "boundaries should be 1 less than the length of values" ] (fun () ->
                PiecewiseConstantDecay([ 1L ], [ 1.0 ]) |> ignore)
            let c = CosineDecay(1.0, 100L, alpha = 0.1)
            close 1e-12 (c.At 0L) 1.0 "cosine start"
            close 1e-12 (c.At 50L) (0.9 * 0.5 + 0.1) "cosine middle"
            close 1e-12 (c.At 1000L) 0.1 "cosine floor"
            let w = CosineDecay(0.0, 10L, warmupTarget = Nullable 1.0, warmupSteps = 10L)
            close 1e-12 (w.At 5L) 0.5 "warm-up"
            close 1e-12 (w.At 10L) 1.0 "warm-up end"
            // An optimizer evaluates its schedule at its step count, and refuses to have its rate set.
            torchReady 3
            let opt = SGD(schedule = PiecewiseConstantDecay([ 0L ], [ 1.0; 0.5 ]))
            let steps = run opt [ [| 1.0; 1.0; 1.0 |]; [| 1.0; 1.0; 1.0 |] ]
            close 1e-6 steps.[0].[0] (0.5 - 1.0) "first step at lr 1.0"
            close 1e-6 steps.[1].[0] (0.5 - 1.0 - 0.5) "second step at lr 0.5"
            throwsWith<InvalidOperationException> [ "LearningRateSchedule"; "not settable" ] (fun () -> opt.LearningRate <- 0.1)
        }

        test "weight decay is decoupled: w ← w − w·wd·lr before the update (AdamW)" {
            torchReady 3
            let lr, wd = 0.001, 0.004
            let b1, b2, eps = 0.9, 0.999, 1e-7
            let upd t g w (m, v) =
                let w = w - w * wd * lr
                let m = m + (g - m) * (1.0 - b1)
                let v = v + (g * g - v) * (1.0 - b2)
                let alpha = lr * sqrt (1.0 - b2 ** float t) / (1.0 - b1 ** float t)
                w - m * alpha / (sqrt v + eps), (m, v)
            expectSteps (run (AdamW()) grads) (naive (fun () -> 0.0, 0.0) upd grads) "adamw"
        }
    ]

/// Data: to_categorical, ImageDataGenerator transforms against naive pixel mappings, seeded flows that feed fit, real digits.
module Functional.Tests.DataTests

open System
open System.IO
open System.IO.Compression
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Data
open Functional.Torch.Data
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Training
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests

/// A (1, h, w, 1) image whose pixel (r, c) is r·w + c.
let ramp h w = torch.arange(float (h * w), dtype = torch.ScalarType.Float32).reshape(1L, int64 h, int64 w, 1L)

let pixels (t: torch.Tensor) = t.contiguous().data<float32>().ToArray()

let noTransform = ImageDataGenerator.Transform(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, false, false)

/// An IDX file of unsigned bytes: the magic number, the big-endian dimensions, then `data`.
let idxBytes (dims: int list) (data: byte[]) =
    let bigEndian (v: int) = [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]
    Array.concat [ yield [| 0uy; 0uy; 8uy; byte dims.Length |]; yield! List.map bigEndian dims; yield data ]

let gzip (bytes: byte[]) =
    use ms = new MemoryStream()
    do
        use gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen = true)
        gz.Write(bytes, 0, bytes.Length)
    ms.ToArray()

let withFolder (f: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), "functional-idx-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory dir |> ignore
    try f dir finally Directory.Delete(dir, true)

[<Tests>]
let tests =
    testSequenced <| testList "Data" [
        test "to_categorical: one-hot float32 rows; (N, 1) labels; num_classes; bad labels rejected" {
            torchReady 40
            let oh = Categorical.ToCategorical(labels [ 0; 2; 1 ])
            Expect.equal (List.ofArray oh.shape) [ 3L; 3L ] "shape"
            Expect.equal oh.dtype torch.ScalarType.Float32 "float32"
            closeAll 0.0 (values oh) [ 1.; 0.; 0.; 0.; 0.; 1.; 0.; 1.; 0. ] "values"
            let col = Categorical.ToCategorical(torch.tensor([| 1L; 0L |]).reshape(2L, 1L), Nullable 4)
            Expect.equal (List.ofArray col.shape) [ 2L; 4L ] "(N, 1) → (N, classes)"
            throwsWith<ArgumentException> [ "label 5"; "numClasses=3" ] (fun () -> Categorical.ToCategorical(labels [ 5 ], Nullable 3) |> ignore)
            throwsWith<ArgumentException> [ "non-negative"; "-1" ] (fun () -> Categorical.ToCategorical(labels [ -1 ]) |> ignore)
            throwsWith<ArgumentException> [ "integer class labels" ] (fun () -> Categorical.ToCategorical(v [ 0.5 ]) |> ignore)
        }

        test "ImageDataGenerator transforms are Keras's: shifts, a 90° rotation and flips move pixels as the naive mapping says" {
            torchReady 41
            let h, w = 5, 5
            let img = ramp h w
            let src = pixels img
            let gen = ImageDataGenerator()
            let at (a: float32[]) r c = a.[r * w + c]
            let clampi x = max 0 (min (h - 1) x)
            // Identity.
            Expect.equal (pixels (gen.Apply(img, [ noTransform ]))) src "identity"
            // ty = 2 (width shift in Keras's matrix): output (r, c) reads input (r, c + 2); outside → nearest edge.
            let shifted = pixels (gen.Apply(img, [ ImageDataGenerator.Transform(0.0, 0.0, 2.0, 0.0, 1.0, 1.0, false, false) ]))
            for r in 0 .. h - 1 do
                for c in 0 .. w - 1 do
                    close 1e-4 (float (at shifted r c)) (float (at src r (clampi (c + 2)))) (sprintf "shift (%d, %d)" r c)
            // θ = 90°: output (r, c) reads input (h − 1 − c, r).
            let rotated = pixels (gen.Apply(img, [ ImageDataGenerator.Transform(90.0, 0.0, 0.0, 0.0, 1.0, 1.0, false, false) ]))
            for r in 0 .. h - 1 do
                for c in 0 .. w - 1 do
                    close 1e-3 (float (at rotated r c)) (float (at src (h - 1 - c) r)) (sprintf "rotate (%d, %d)" r c)
            // Horizontal flip mirrors columns.
            let flipped = pixels (gen.Apply(img, [ ImageDataGenerator.Transform(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, true, false) ]))
            for r in 0 .. h - 1 do
                for c in 0 .. w - 1 do
                    Expect.equal (at flipped r c) (at src r (w - 1 - c)) "flip"
            // Constant fill with cval: shifted-in pixels take the constant.
            let constant = ImageDataGenerator(fillMode = FillMode.Constant, cval = -1.0)
            let filled = pixels (constant.Apply(img, [ ImageDataGenerator.Transform(0.0, 0.0, 2.0, 0.0, 1.0, 1.0, false, false) ]))
            close 1e-4 (float (at filled 0 4)) -1.0 "cval"
            // rescale multiplies after the transform.
            let scaled = pixels (ImageDataGenerator(rescale = Nullable 0.5).Apply(img, [ noTransform ]))
            Expect.equal scaled (src |> Array.map (fun p -> p * 0.5f)) "rescale"
        }

        test "zoom draws from [1 − z, 1 + z]; shifts < 1 are fractions of the size; arguments are validated" {
            let gen = ImageDataGenerator(zoomRange = 0.2, widthShiftRange = 0.1, heightShiftRange = 3.0, rotationRange = 10.0)
            let rnd = Random 3
            for _ in 1 .. 200 do
                let t = gen.RandomTransform(28, 28, rnd)
                Expect.isTrue (t.Zx >= 0.8 && t.Zx <= 1.2 && t.Zy >= 0.8 && t.Zy <= 1.2) "zoom range"
                Expect.isTrue (abs t.Ty <= 2.8) "width shift: 0.1 · 28 pixels"
                Expect.isTrue (abs t.Tx <= 3.0) "height shift: 3 pixels"
                Expect.isTrue (abs t.Theta <= 10.0) "rotation"
            throwsWith<ArgumentException> [ "rotationRange"; "-5" ] (fun () -> ImageDataGenerator(rotationRange = -5.0) |> ignore)
        }

        test "a seeded flow repeats exactly, differs with another seed, and feeds fit" {
            torchReady 42
            let x = torch.rand(20L, 8L, 8L, 1L)
            let y = torch.randint(0L, 3L, [| 20L |])
            let gen = ImageDataGenerator(rotationRange = 15.0, widthShiftRange = 0.1, heightShiftRange = 0.1, zoomRange = 0.1, horizontalFlip = true)
            let firstBatch (seed: int) =
                let b = (gen.Flow(x, y, batchSize = 6, seed = seed)).Batches(0) |> Seq.head
                b.Inputs.[0].clone(), b.Targets.[0].clone()
            let a, ya = firstBatch 7
            let b, yb = firstBatch 7
            let c, _ = firstBatch 8
            Expect.isTrue (same a b && same ya yb) "same seed, same batch"
            Expect.isFalse (same a c) "another seed, another batch"
            Expect.equal ((gen.Flow(x, y, batchSize = 6)).StepsPerEpoch) 4 "⌈20/6⌉ steps"
            use net = BuiltNetwork.Build(Functional.Tests.SavingTests.smallCnn ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            let h = model.Fit(gen.Flow(x, y, batchSize = 6, seed = 1), epochs = 2, verbose = quiet)
            Expect.equal h.["loss"].Count 2 "two epochs of augmented batches"
        }

        test "IDX: declared sizes beyond the file are rejected before allocating, trailing data is rejected; gzipped too" {
            withFolder (fun dir ->
                let write name (bytes: byte[]) = let p = Path.Combine(dir, name) in File.WriteAllBytes(p, bytes); p
                // Good files read back, plain and gzipped.
                for name, bytes in [ "ok", idxBytes [ 2; 3 ] [| 0uy .. 5uy |]; "ok.gz", gzip (idxBytes [ 2; 3 ] [| 0uy .. 5uy |]) ] do
                    let a = Idx.Read(write name bytes)
                    Expect.equal (List.ofArray a.Dimensions) [ 2; 3 ] name
                    Expect.equal a.Data [| 0uy .. 5uy |] name
                // 8 bytes that declare 2^31 − 1 items.
                let huge = write "huge" (idxBytes [ Int32.MaxValue ] [||])
                throwsWith<InvalidDataException> [ huge; "2147483647" ] (fun () -> Idx.Read huge |> ignore)
                // 8 bytes that declare a billion: plain, rejected by length; gzipped, the buffer grows only with the data.
                let billion = write "billion" (idxBytes [ 1_000_000_000 ] [||])
                throwsWith<InvalidDataException> [ billion; "truncated"; "1000000000"; "only 0 bytes" ] (fun () -> Idx.Read billion |> ignore)
                let billionGz = write "billion.gz" (gzip (idxBytes [ 1_000_000_000 ] [| 1uy; 2uy; 3uy |]))
                let allocated = GC.GetAllocatedBytesForCurrentThread()
                throwsWith<InvalidDataException> [ billionGz; "truncated"; "after 3 bytes" ] (fun () -> Idx.Read billionGz |> ignore)
                Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - allocated) (64L <<< 20) "no gigabyte allocated for a declared size"
                // Data after the declared array.
                let trailing = write "trailing" (idxBytes [ 3 ] [| 1uy; 2uy; 3uy; 4uy |])
                throwsWith<InvalidDataException> [ trailing; "1 bytes follow"; "trailing" ] (fun () -> Idx.Read trailing |> ignore)
                let trailingGz = write "trailing.gz" (gzip (idxBytes [ 3 ] [| 1uy; 2uy; 3uy; 4uy |]))
                throwsWith<InvalidDataException> [ trailingGz; "trailing" ] (fun () -> Idx.Read trailingGz |> ignore)
                throwsWith<FileNotFoundException> [ "no-such" ] (fun () -> Idx.Read(Path.Combine(dir, "no-such")) |> ignore))
        }

        test "digit sets: a label outside 0..9 is rejected naming the file, the sample and the value" {
            withFolder (fun dir ->
                File.WriteAllBytes(Path.Combine(dir, "images-idx3-ubyte"), idxBytes [ 3; 28; 28 ] (Array.zeroCreate (3 * 28 * 28)))
                let labels = Path.Combine(dir, "labels-idx1-ubyte")
                File.WriteAllBytes(labels, idxBytes [ 3 ] [| 3uy; 9uy; 0uy |])
                Expect.equal (DigitSet.Load dir).Count 3 "labels 0..9 load"
                File.WriteAllBytes(labels, idxBytes [ 3 ] [| 3uy; 10uy; 0uy |])
                throwsWith<InvalidDataException> [ labels; "label 1 is 10"; "10 classes" ] (fun () -> DigitSet.Load dir |> ignore)
                File.WriteAllBytes(labels, idxBytes [ 2 ] [| 3uy; 1uy |])
                throwsWith<InvalidDataException> [ labels; "3 images" ] (fun () -> DigitSet.Load dir |> ignore))
        }

        test "real digits: the repository's MNIST and Fashion-MNIST load as 10,000 labelled 28×28 images" {
            for name in [ "mnist"; "fashion-mnist" ] do
                let set = DigitSet.Load(DigitSet.FindRepositoryData name)
                Expect.equal set.Count 10000 name
                use labels = DigitTensors.Labels set
                use oh = Categorical.ToCategorical(labels)
                Expect.equal (List.ofArray oh.shape) [ 10000L; 10L ] "ten classes"
        }
    ]

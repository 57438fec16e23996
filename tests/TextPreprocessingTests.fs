/// Keras's text preprocessing: TextVectorization, StringLookup and IntegerLookup against the worked examples in Keras's
/// own docstrings (exact outputs), adapt's ordering (frequency, ties by the tokens high to low, max_tokens), every output
/// mode, n-grams, TF-IDF's formula, config round trips with the vocabulary inline, a model taking raw strings, and the
/// SpamLstm pipeline on a slice of the real SpamAssassin file in data/.
module Functional.Tests.TextPreprocessingTests

open System
open System.IO
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Torch.Layers
open Functional.Torch.Data
open Functional.Torch.Saving
open Functional.Tests.Support
open Functional.Examples

type private G = Functional.Models.Graph

let private longs (t: torch.Tensor) = t.contiguous().cpu().to_type(torch.ScalarType.Int64).data<int64>().ToArray()
let private floats (t: torch.Tensor) = t.contiguous().cpu().to_type(torch.ScalarType.Float32).data<float32>().ToArray()
let private rows (xs: string list list) : Collections.Generic.IReadOnlyList<Collections.Generic.IReadOnlyList<string>> =
    ResizeArray(xs |> List.map (fun r -> ResizeArray r :> Collections.Generic.IReadOnlyList<string>))
let private strs (xs: string list) : Collections.Generic.IReadOnlyList<string> = ResizeArray xs
let private close (actual: float32[]) (expected: float32[]) =
    Expect.equal actual.Length expected.Length "length"
    Array.iteri2 (fun i (a: float32) e -> Expect.floatClose Accuracy.medium (float a) (float e) (sprintf "element %d" i)) actual expected

let private ints (data: int64[]) (dims: int64[]) = torch.tensor(data).reshape(dims)

let private abcd = [| "a"; "b"; "c"; "d" |]
let private vocab = [| 12L; 36L; 1138L; 42L |]

[<Tests>]
let tests =
    testList "Text preprocessing (TextVectorization, StringLookup, IntegerLookup)" [
        testList "Keras's TextVectorization docstring" [
            test "adapt on three strings, output_sequence_length 4: [[4, 1, 3, 0], [1, 2, 0, 0]]" {
                torchReady 1
                let layer = TextVectorization(maxTokens = 5000, outputMode = "int", outputSequenceLength = 4)
                let adapted = layer.Adapt [ "foo bar"; "bar baz"; "baz bada boom" ]
                use out = adapted.Call(strs [ "foo qux bar"; "qux baz" ])
                Expect.equal (out.shape) [| 2L; 4L |] "shape"
                Expect.equal (longs out) [| 4L; 1L; 3L; 0L; 1L; 2L; 0L; 0L |] "Keras's output"
                // bar and baz twice (baz first: ties high to low), then foo, boom, bada once.
                Expect.sequenceEqual (adapted.GetVocabulary()) [ ""; "[UNK]"; "baz"; "bar"; "foo"; "boom"; "bada" ] "vocabulary"
                Expect.isNull layer.Vocabulary "adapt returns a copy; the record is unchanged"
            }
            test "a given vocabulary gets the padding and OOV tokens: ['', '[UNK]', 'earth', 'wind', 'and', 'fire']" {
                let layer = TextVectorization(maxTokens = 5000, outputMode = "int", outputSequenceLength = 4, vocabulary = [| "earth"; "wind"; "and"; "fire" |])
                Expect.sequenceEqual (layer.GetVocabulary()) [ ""; "[UNK]"; "earth"; "wind"; "and"; "fire" ] "vocabulary"
                Expect.equal (layer.VocabularySize()) 6 "vocabulary_size"
                let same = TextVectorization(vocabulary = [| ""; "[UNK]"; "earth"; "wind"; "and"; "fire" |])
                Expect.sequenceEqual (same.GetVocabulary()) (layer.GetVocabulary()) "special tokens given first are recognised"
            }
        ]
        testList "Keras's StringLookup docstring" [
            test "known vocabulary: [[1, 3, 4], [4, 0, 2]]" {
                torchReady 1
                use out = StringLookup(vocabulary = abcd).Call(rows [ [ "a"; "c"; "d" ]; [ "d"; "z"; "b" ] ])
                Expect.equal (longs out) [| 1L; 3L; 4L; 4L; 0L; 2L |] "indices"
                Expect.equal out.dtype torch.ScalarType.Int64 "int64"
            }
            test "adapted vocabulary ['[UNK]', 'd', 'z', 'c', 'b', 'a'] and [[5, 3, 1], [1, 2, 4]]" {
                let data = [ [ "a"; "c"; "d" ]; [ "d"; "z"; "b" ] ]
                let layer = StringLookup().Adapt(rows data)
                Expect.sequenceEqual (layer.GetVocabulary()) [ "[UNK]"; "d"; "z"; "c"; "b"; "a" ] "vocabulary"
                use out = layer.Call(rows data)
                Expect.equal (longs out) [| 5L; 3L; 1L; 1L; 2L; 4L |] "indices"
            }
            test "two OOV indices hash 'm' to 0 and 'z' to 1 (FarmHash64): [[2, 4, 5], [0, 1, 3]]" {
                use out = StringLookup(vocabulary = abcd, numOovIndices = 2).Call(rows [ [ "a"; "c"; "d" ]; [ "m"; "z"; "b" ] ])
                Expect.equal (longs out) [| 2L; 4L; 5L; 0L; 1L; 3L |] "indices"
            }
            test "one_hot" {
                use out = StringLookup(vocabulary = abcd, outputMode = "one_hot").Call(strs [ "a"; "b"; "c"; "d"; "z" ])
                Expect.equal out.shape [| 5L; 5L |] "shape"
                close (floats out) [| 0f; 1f; 0f; 0f; 0f; 0f; 0f; 1f; 0f; 0f; 0f; 0f; 0f; 1f; 0f; 0f; 0f; 0f; 0f; 1f; 1f; 0f; 0f; 0f; 0f |]
            }
            test "multi_hot and count" {
                let data = rows [ [ "a"; "c"; "d"; "d" ]; [ "d"; "z"; "b"; "z" ] ]
                use mh = StringLookup(vocabulary = abcd, outputMode = "multi_hot").Call data
                close (floats mh) [| 0f; 1f; 0f; 1f; 1f; 1f; 0f; 1f; 0f; 1f |]
                use count = StringLookup(vocabulary = abcd, outputMode = "count").Call data
                close (floats count) [| 0f; 1f; 0f; 1f; 2f; 2f; 0f; 1f; 0f; 1f |]
            }
            test "tf_idf: OOV weighted by the average idf, or by the weight given with '[UNK]'" {
                let data = rows [ [ "a"; "c"; "d"; "d" ]; [ "d"; "z"; "b"; "z" ] ]
                use a = StringLookup(outputMode = "tf_idf", vocabulary = abcd, idfWeights = [| 0.25; 0.75; 0.6; 0.4 |]).Call data
                close (floats a) [| 0f; 0.25f; 0f; 0.6f; 0.8f; 1.0f; 0f; 0.75f; 0f; 0.4f |]
                use b = StringLookup(outputMode = "tf_idf", vocabulary = [| "[UNK]"; "a"; "b"; "c"; "d" |], idfWeights = [| 0.9; 0.25; 0.75; 0.6; 0.4 |]).Call data
                close (floats b) [| 0f; 0.25f; 0f; 0.6f; 0.8f; 1.8f; 0f; 0.75f; 0f; 0.4f |]
            }
            test "inverse lookup: [['a', 'c', 'd'], ['d', '[UNK]', 'b']], and forward then inverse" {
                let inverse = StringLookup(vocabulary = abcd, invert = true)
                let back = inverse.Inverse(HostArray<int64>([| 1L; 3L; 4L; 4L; 0L; 2L |], 2L, 3L))
                Expect.equal back.Data [| "a"; "c"; "d"; "d"; "[UNK]"; "b" |] "strings"
                let forward = StringLookup(vocabulary = abcd).Apply(rows [ [ "a"; "c"; "d" ]; [ "d"; "z"; "b" ] ])
                Expect.equal (inverse.Inverse(forward.Ints).Data) [| "a"; "c"; "d"; "d"; "[UNK]"; "b" |] "round trip"
            }
        ]
        testList "Keras's IntegerLookup docstring" [
            test "known vocabulary, adapt, two OOV indices (floormod), inverse" {
                torchReady 1
                use data = ints [| 12L; 1138L; 42L; 42L; 1000L; 36L |] [| 2L; 3L |]
                use known = IntegerLookup(vocabulary = vocab).Call data
                Expect.equal (longs known) [| 1L; 3L; 4L; 4L; 0L; 2L |] "known"
                let adapted = TextPreprocessingCalls.Adapt(IntegerLookup(), data)
                Expect.sequenceEqual (adapted.GetVocabulary()) [ -1L; 42L; 1138L; 1000L; 36L; 12L ] "adapted vocabulary"
                use a = adapted.Call data
                Expect.equal (longs a) [| 5L; 2L; 1L; 1L; 3L; 4L |] "adapted"
                use oov = ints [| 12L; 1138L; 42L; 37L; 1000L; 36L |] [| 2L; 3L |]
                use two = IntegerLookup(vocabulary = vocab, numOovIndices = 2).Call oov
                Expect.equal (longs two) [| 2L; 4L; 5L; 1L; 0L; 3L |] "37 → 1, 1000 → 0"
                use idx = ints [| 1L; 3L; 4L; 4L; 0L; 2L |] [| 2L; 3L |]
                use back = IntegerLookup(vocabulary = vocab, invert = true).Call idx
                Expect.equal (longs back) [| 12L; 1138L; 42L; 42L; -1L; 36L |] "inverse"
            }
            test "one_hot, multi_hot, count and tf_idf" {
                torchReady 1
                use flat = torch.tensor([| 12L; 36L; 1138L; 42L; 7L |])
                use oh = IntegerLookup(vocabulary = vocab, outputMode = "one_hot").Call flat
                Expect.equal oh.shape [| 5L; 5L |] "one_hot shape"
                Expect.equal (floats oh |> Array.sum) 5f "one 1 per element"
                use data = ints [| 12L; 1138L; 42L; 42L; 42L; 7L; 36L; 7L |] [| 2L; 4L |]
                use mh = IntegerLookup(vocabulary = vocab, outputMode = "multi_hot").Call data
                close (floats mh) [| 0f; 1f; 0f; 1f; 1f; 1f; 0f; 1f; 0f; 1f |]
                use c = IntegerLookup(vocabulary = vocab, outputMode = "count").Call data
                close (floats c) [| 0f; 1f; 0f; 1f; 2f; 2f; 0f; 1f; 0f; 1f |]
                use t = IntegerLookup(outputMode = "tf_idf", vocabulary = vocab, idfWeights = [| 0.25; 0.75; 0.6; 0.4 |]).Call data
                close (floats t) [| 0f; 0.25f; 0f; 0.6f; 0.8f; 1.0f; 0f; 0.75f; 0f; 0.4f |]
            }
            test "mask_token maps to 0 and shifts the OOV index to 1" {
                let layer = IntegerLookup(vocabulary = vocab, maskToken = Nullable 0L)
                Expect.sequenceEqual (layer.GetVocabulary()) [ 0L; -1L; 12L; 36L; 1138L; 42L ] "mask, OOV, tokens"
                let out = layer.Apply([| 12L; 0L; 5L |], [| 3L |])
                Expect.equal out.Ints.Data [| 2L; 0L; 1L |] "indices"
            }
        ]
        test "FarmHash64: published fingerprints and TensorFlow's/Keras's documented buckets" {
            // fingerprint64('test') and of 'test'×8 (32 bytes) from the farmhash Dart port's tests (signed there).
            Expect.equal (FarmHash.Fingerprint64 "test") 8581389452482819506UL "'test'"
            Expect.equal (int64 (FarmHash.Fingerprint64(String.replicate 8 "test"))) -4196240717365766262L "'test' × 8"
            // tf.strings.to_hash_bucket_fast(["Hello", "TensorFlow", "2.x"], 3) → [0, 2, 2] (TensorFlow's docs).
            Expect.equal ([ "Hello"; "TensorFlow"; "2.x" ] |> List.map (fun s -> FarmHash.Bucket(s, 3))) [ 0L; 2L; 2L ] "TF docs"
            // keras.layers.Hashing(num_bins=3) on A…E → [1, 0, 1, 1, 2] (Keras's docs).
            Expect.equal ([ "A"; "B"; "C"; "D"; "E" ] |> List.map (fun s -> FarmHash.Bucket(s, 3))) [ 1L; 0L; 1L; 1L; 2L ] "Keras docs"
            // Every length class (0–16, 17–32, 33–64, longer) is deterministic and differs from its neighbours.
            let lengths = [ 0; 1; 3; 4; 8; 16; 17; 32; 33; 64; 65; 200 ]
            let hashes = lengths |> List.map (fun n -> FarmHash.Fingerprint64(String('x', n)))
            Expect.equal (hashes |> List.distinct |> List.length) lengths.Length "distinct"
        }
        testList "adapt" [
            test "frequency first, ties by the tokens high to low (UTF-8 byte order), max_tokens keeps the most frequent" {
                let texts = [ "b a c a"; "B d"; "é z"; "d a" ]
                let layer = TextVectorization(maxTokens = 5).Adapt texts
                // a ×3, b ×2 (lowercased), d ×2; ties: d > b. max_tokens 5 leaves 3 tokens after "" and [UNK].
                Expect.sequenceEqual (layer.GetVocabulary()) [ ""; "[UNK]"; "a"; "d"; "b" ] "vocabulary"
                let all = TextVectorization().Adapt texts
                // Count 1: é (0xC3 0xA9) sorts above z (0x7A) as bytes.
                Expect.sequenceEqual (all.GetVocabulary(false)) [ "a"; "d"; "b"; "é"; "z"; "c" ] "all tokens"
            }
            test "the mask and OOV tokens in the data are not learned" {
                let layer = StringLookup(maskToken = "").Adapt(strs [ "[UNK]"; "x"; ""; "x"; "[UNK]" ])
                Expect.sequenceEqual (layer.GetVocabulary()) [ ""; "[UNK]"; "x" ] "vocabulary"
            }
            test "tf_idf: idf = log(1 + documents / (1 + document count)), OOV the average" {
                let docs = [ "a a b"; "a c"; "d" ]
                let layer = TextVectorization(outputMode = "tf_idf").Adapt docs
                Expect.sequenceEqual (layer.GetVocabulary()) [ "[UNK]"; "a"; "d"; "c"; "b" ] "OOV first, no padding index"
                let idf df = float32 (log (1.0 + 3.0 / (1.0 + df)))
                let expected = [| idf 2.0; idf 1.0; idf 1.0; idf 1.0 |]
                Expect.sequenceEqual (layer.IdfWeights |> Seq.map float32) expected "learned weights"
                let out = layer.Apply(strs [ "a a x" ]).Floats.Data
                close out [| Array.average expected; 2f * idf 2.0; 0f; 0f; 0f |]
            }
        ]
        testList "standardize, split, ngrams, output modes" [
            test "lower lowercases ASCII only (tf.strings.lower); strip_punctuation removes ASCII punctuation" {
                let t (s: string) (sp: string) = TextVectorization(standardize = s, split = sp).Tokens "Hello, World! ÄB's 3.5%" |> List.ofSeq
                Expect.equal (t "lower_and_strip_punctuation" "whitespace") [ "hello"; "world"; "Äbs"; "35" ] "default"
                Expect.equal (t "lower" "whitespace") [ "hello,"; "world!"; "Äb's"; "3.5%" ] "lower"
                Expect.equal (t "strip_punctuation" "whitespace") [ "Hello"; "World"; "ÄBs"; "35" ] "strip"
                Expect.equal (t null null) [ "Hello, World! ÄB's 3.5%" ] "none, no split"
                Expect.equal (TextVectorization(split = "character").Tokens "Ab c" |> List.ofSeq) [ "a"; "b"; " "; "c" ] "characters"
                Expect.equal (TextVectorization().Tokens "  a\t\tb \n c  " |> List.ofSeq) [ "a"; "b"; "c" ] "runs of whitespace"
            }
            test "ngrams: an integer n means 1…n, a tuple the widths given (tf.strings.ngrams order)" {
                Expect.equal (TextVectorization(ngrams = IntTuple.Integer 2).Tokens "a b c" |> List.ofSeq) [ "a"; "b"; "c"; "a b"; "b c" ] "2"
                Expect.equal (TextVectorization(ngrams = IntTuple(1, 3)).Tokens "a b c" |> List.ofSeq) [ "a"; "b"; "c"; "a b c" ] "(1, 3)"
                Expect.equal (TextVectorization(ngrams = IntTuple 3).Tokens "a b" |> List.ofSeq) [] "(3,) on two tokens"
                Expect.equal (TextVectorization(ngrams = IntTuple.Integer 2).Ngrams) (IntTuple(1, 2)) "held as Keras's tuple"
            }
            test "int mode pads a batch to its longest sequence; multi_hot and count give (batch, vocabulary)" {
                torchReady 1
                let layer = TextVectorization().Adapt [ "the cat"; "the dog"; "the"; "a cat" ]
                use ints = layer.Call(strs [ "the cat sat"; "dog"; "" ])
                Expect.equal ints.shape [| 3L; 3L |] "padded to 3"
                let the, cat, dog = 2L, 3L, 4L
                Expect.sequenceEqual (layer.GetVocabulary()) [ ""; "[UNK]"; "the"; "cat"; "dog"; "a" ] "vocabulary"
                Expect.equal (longs ints) [| the; cat; 1L; dog; 0L; 0L; 0L; 0L; 0L |] "indices"
                let mh = TextVectorization(outputMode = "multi_hot", vocabulary = [| "the"; "cat" |])
                use m = mh.Call(strs [ "the the cat x"; "" ])
                close (floats m) [| 1f; 1f; 1f; 0f; 0f; 0f |]
                let count = TextVectorization(outputMode = "count", vocabulary = [| "the"; "cat" |], maxTokens = 5, padToMaxTokens = true)
                use c = count.Call(strs [ "the the cat x" ])
                close (floats c) [| 1f; 2f; 1f; 0f; 0f |]
                Expect.equal (count.ComputeOutputShape(Shape([||]: int[]))) (Shape 5) "padded to max_tokens"
                Expect.equal (TextVectorization(outputSequenceLength = 7).ComputeOutputShape(Shape 1)) (Shape 7) "int shape"
                Expect.equal (TextVectorization().ComputeOutputShape(Shape([||]: int[]))) (Shape([| Nullable() |])) "unknown length"
            }
            test "bad arguments are refused naming the layer, the argument and the value" {
                throwsWith<ArgumentException> [ "TextVectorization"; "ragged=True"; "TensorFlow" ] (fun () -> TextVectorization(ragged = true) |> ignore)
                throwsWith<ArgumentException> [ "TextVectorization"; "sparse=True" ] (fun () -> TextVectorization(outputMode = "multi_hot", sparse = true) |> ignore)
                throwsWith<ArgumentException> [ "output_sequence_length"; "not 'int'" ] (fun () -> TextVectorization(outputMode = "count", outputSequenceLength = 3) |> ignore)
                throwsWith<ArgumentException> [ "standardize"; "'upper'" ] (fun () -> TextVectorization(standardize = "upper") |> ignore)
                throwsWith<ArgumentException> [ "output_mode"; "'dense'" ] (fun () -> StringLookup(outputMode = "dense") |> ignore)
                throwsWith<ArgumentException> [ "max_tokens"; "1" ] (fun () -> IntegerLookup(maxTokens = 1) |> ignore)
                throwsWith<ArgumentException> [ "repeated"; "'a'" ] (fun () -> StringLookup(vocabulary = [| "a"; "b"; "a" |]) |> ignore)
                throwsWith<ArgumentException> [ "idf_weights"; "must also be provided" ] (fun () -> StringLookup(outputMode = "tf_idf", vocabulary = abcd) |> ignore)
                throwsWith<ArgumentException> [ "num_oov_indices=0"; "'z'" ] (fun () -> StringLookup(vocabulary = abcd, numOovIndices = 0).Apply(strs [ "z" ]) |> ignore)
                throwsWith<InvalidOperationException> [ "StringLookup"; "no vocabulary"; "Adapt" ] (fun () -> StringLookup().Apply(strs [ "a" ]) |> ignore)
                throwsWith<ShapeException> [ "TextVectorization"; "(None, 3)" ] (fun () -> TextVectorization().ComputeOutputShape(Shape 3) |> ignore)
            }
        ]
        testList "configs carry the vocabulary" [
            test "round trips, Keras's keys, a with copy re-checked" {
                let tv = TextVectorization(maxTokens = 100, ngrams = IntTuple.Integer 2, outputSequenceLength = 8).Adapt [ "a b"; "b c" ]
                let json = LayerConfig.ToJson tv
                let compact = Text.Json.Nodes.JsonNode.Parse(json).ToJsonString()
                Expect.equal (LayerConfig.FromJson json) (tv :> Layer) "TextVectorization"
                Expect.stringContains compact "\"vocabulary\":[\"b\",\"c\",\"b c\",\"a b\",\"a\"]" "vocabulary inline"
                Expect.stringContains compact "\"ngrams\":[1,2]" "ngrams as Keras's tuple"
                Expect.stringContains compact "\"standardize\":\"lower_and_strip_punctuation\"" "standardize"
                let tfidf = TextVectorization(outputMode = "tf_idf").Adapt [ "a b"; "b" ]
                Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson tfidf)) (tfidf :> Layer) "with idf weights"
                let sl = StringLookup(maskToken = "", numOovIndices = 2, vocabulary = abcd, outputMode = "count", Name = "lookup")
                Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson sl)) (sl :> Layer) "StringLookup"
                let il = IntegerLookup(maskToken = Nullable 0L, vocabulary = vocab, invert = true)
                Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson il)) (il :> Layer) "IntegerLookup"
                Expect.notEqual (StringLookup(vocabulary = abcd) :> Layer) (StringLookup(vocabulary = [| "a"; "b" |]) :> Layer) "vocabularies compare by value"
                Expect.equal (StringLookup(vocabulary = abcd) :> Layer) (StringLookup(vocabulary = Array.copy abcd) :> Layer) "equal vocabularies, equal layers"
                throwsWith<ArgumentException> [ "max_tokens"; "vocabulary size is 5" ] (fun () -> StringLookup(maxTokens = 3, vocabulary = abcd) |> ignore)
            }
            test "Keras-written lookup configs: bookkeeping keys are read and dropped, IntegerLookup's oov_method is kept" {
                let keras = """{"class_name": "StringLookup", "config": {"name": "lookup", "trainable": true, "dtype": "float32",
                    "invert": false, "max_tokens": null, "num_oov_indices": 1, "oov_token": "[UNK]", "mask_token": null,
                    "output_mode": "int", "sparse": false, "pad_to_max_tokens": false, "vocabulary_dtype": "string",
                    "idf_weights": null, "vocabulary": ["a", "b", "c", "d"], "vocabulary_size": 5, "oov_method": "floormod",
                    "encoding": "utf-8"}}"""
                let layer = LayerConfig.FromJson keras :?> StringLookup
                Expect.sequenceEqual (layer.GetVocabulary()) [ "[UNK]"; "a"; "b"; "c"; "d" ] "vocabulary"
                let hashed = IntegerLookup(vocabulary = vocab, numOovIndices = 2, oovMethod = "farmhash")
                Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson hashed)) (hashed :> Layer) "oov_method round trip"
                let out = hashed.Apply([| 37L; 1000L; 12L |], [| 3L |]).Ints.Data
                Expect.equal out [| FarmHash.Bucket("37", 2); FarmHash.Bucket("1000", 2); 2L |] "FarmHash64 of the decimal text"
                throwsWith<ArgumentException> [ "oov_method"; "'modulo'" ] (fun () -> IntegerLookup(oovMethod = "modulo") |> ignore)
            }
            test "a model from raw strings: string Input, summary, JSON round trip, and Predict on strings equals the int model's" {
                torchReady 7
                let tv = TextVectorization(maxTokens = 50, Name = "vectorize").Adapt [ "good movie"; "bad movie"; "good plot bad acting"; "great" ]
                let embedding = Embedding(tv.VocabularySize(), 4, maskZero = true, Name = "embedding")
                let pool = GlobalAveragePooling1D(Name = "pool")
                let dense = Dense(1, activation = "sigmoid", Name = "dense")
                let text = G.TensorOf(Input(Shape([||]: int[]), Name = "text", Dtype = DTypePolicy "string"))
                let full = Model(text, dense.Call(pool.Call(embedding.Call(tv.Call text))), "end_to_end")
                let summary = full.Summary()
                Expect.stringContains summary "TextVectorization" "summary names the layer"
                let json = full.ToJson()
                Expect.stringContains (Text.Json.Nodes.JsonNode.Parse(json).ToJsonString()) "\"dtype\":\"string\"" "the string Input's dtype"
                let back = ModelConfig.FromJson json
                Expect.equal (back.ToJson()) json "JSON round trip"
                let ids = G.Input(Shape([| Nullable() |]), "ids")
                let intModel = Model(ids, dense.Call(pool.Call(embedding.Call ids)), "int_model")
                use intNet = BuiltNetwork.Build(intModel)
                use net = BuiltNetwork.Build(back)
                let path = Path.Combine(Path.GetTempPath(), sprintf "text-%s.safetensors" (Guid.NewGuid().ToString "N"))
                try
                    intNet.SaveWeights path
                    net.LoadWeights path
                finally File.Delete path
                let texts = [ "good movie"; "bad bad acting, unseen words"; "zzz" ]
                use fromStrings = net.Predict(strs texts, batchSize = 2)
                use indices = tv.Call(strs texts)
                use fromInts = intNet.Predict(indices.to_type(torch.ScalarType.Float32))
                Expect.equal fromStrings.shape [| 3L; 1L |] "one probability per text"
                close (floats fromStrings) (floats fromInts)
                throwsWith<ArgumentException> [ "takes strings"; "Predict(texts)" ] (fun () -> net.Predict(indices.to_type(torch.ScalarType.Float32)) |> ignore)
            }
            test "a string Input feeding a tensor layer is refused at build, naming the layer" {
                torchReady 1
                let text = G.TensorOf(Input(Shape([| 1 |]), Name = "text", Dtype = DTypePolicy "string"))
                let m = Model(text, Dense(2, Name = "dense").Call text)
                throwsWith<NotSupportedException> [ "Dense 'dense'"; "string Input" ] (fun () -> BuiltNetwork.Build(m) |> ignore)
            }
        ]
        test "SpamLstm's pipeline on a slice of the real SpamAssassin file: variable-length batches, training, raw-string predictions" {
            torchReady 3
            let file = Path.Combine(Functional.Data.DigitSet.FindRepositoryData "spam-assassin", "messages.tsv.gz")
            let mails = SpamPipeline.load file
            Expect.equal mails.Length 3488 "the committed file's mails"
            Expect.equal (mails |> Array.filter (fun m -> m.Spam) |> Array.length) 1744 "half spam"
            let slice = mails.[.. 239]
            let train, test = SpamPipeline.split 0.25 slice
            // Each batch is padded to its own longest text, so lengths differ between batches.
            let vectorizer = TextVectorization(maxTokens = 3000).Adapt(train |> Array.map (fun m -> m.Text))
            let batches = TextBatches(vectorizer, train |> Array.map (fun m -> m.Text), train |> Array.map (fun m -> if m.Spam then 1f else 0f), 16)
            let widths =
                [ for b in batches.Batches 0 do
                    use x = b.Inputs.[0]
                    use y = b.Targets.[0]
                    Expect.equal y.shape [| x.shape.[0]; 1L |] "one label per text"
                    Expect.equal (longs x |> Array.chunkBySize (int x.shape.[1]) |> Array.map (fun r -> r.[r.Length - 1] <> 0L) |> Array.exists id) true "the longest text fills its batch"
                    yield x.shape.[1] ]
            Expect.equal widths.Length batches.StepsPerEpoch "steps"
            Expect.isGreaterThan (widths |> List.distinct |> List.length) 1 "variable lengths"
            let settings = { SpamPipeline.defaults with MaxTokens = 3000; EmbeddingDim = 8; Units = 4; Epochs = 2; BatchSize = 16 }
            let outcome = SpamPipeline.run settings train test ignore
            Expect.stringContains outcome.Summary "TextVectorization" "summary of the end-to-end model"
            Expect.equal outcome.Predictions.Length test.Length "a probability per held-out text"
            Expect.isTrue (outcome.Losses |> List.forall Double.IsFinite) "finite losses"
            Expect.isLessThan (List.last outcome.Losses) (List.head outcome.Losses) "the loss falls"
            Expect.isTrue (outcome.Predictions |> Array.forall (fun (_, p) -> p >= 0f && p <= 1f)) "probabilities"
        }
    ]

/// Keras's call arguments of MultiHeadAttention (`use_causal_mask`, `return_attention_scores`) from C# and the F# DSL.
[<Tests>]
let attentionCallTests =
    testList "MultiHeadAttention call arguments (use_causal_mask, return_attention_scores)" [
        test "CallWith: two outputs, causal scores, one layer for repeated calls with the same arguments" {
            torchReady 5
            let q = G.Input(3, 8)
            let mha = MultiHeadAttention(2, 4)
            let first = mha.CallWith(q, q, returnAttentionScores = true, useCausalMask = true)
            let second = mha.CallWith(first.[0], first.[0], returnAttentionScores = true, useCausalMask = true)
            Expect.equal first.Count 2 "output and scores"
            Expect.equal first.[1].Shape (Shape(2, 3, 3)) "scores (heads, T, S)"
            let m = Model([ q ], [ second.[0]; first.[1] ])
            let attention = m.Layers |> Seq.filter (fun l -> l :? MultiHeadAttention) |> List.ofSeq
            Expect.equal attention.Length 1 "the same arguments apply one shared layer"
            Expect.isTrue ((attention.Head :?> MultiHeadAttention).UseCausalMask) "the config carries use_causal_mask"
            use net = BuiltNetwork.Build m
            use x = torch.randn(2L, 3L, 8L)
            let outs = net.Predict([ x ] |> ResizeArray)
            let scores = floats outs.[1] |> Array.chunkBySize 3
            for row in 0 .. scores.Length - 1 do
                let i = row % 3
                for j in i + 1 .. 2 do Expect.equal scores.[row].[j] 0f "no attention to later positions"
                Expect.floatClose Accuracy.medium (float (Array.sum scores.[row])) 1.0 "a softmax row"
            let plain = mha.CallWith(q, q)
            Expect.equal plain.Count 1 "the record's own arguments: the layer itself"
        }
        test "the F# DSL: GraphCalls.multiHeadAttention with Keras's call arguments" {
            let q = Functional.FSharp.Graph.input [ 4; 6 ]
            let layer = Functional.FSharp.Layers.multiHeadAttention (2, 3)
            let outs = Functional.FSharp.GraphCalls.multiHeadAttention (layer, q, q, useCausalMask = true, returnAttentionScores = true)
            Expect.equal (outs |> List.map (fun t -> t.Shape)) [ Shape(4, 6); Shape(2, 4, 4) ] "output and scores"
            throwsWith<ArgumentException> [ "MultiHeadAttention"; "Dense" ] (fun () ->
                Functional.FSharp.GraphCalls.multiHeadAttention (Dense(2), q, q) |> ignore)
        }
    ]
